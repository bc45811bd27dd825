"""Reading YAML with positions: what cannot be read is a problem at its line, never a traceback
and never an echo of what was written where a secret goes."""

from __future__ import annotations

import pytest

from tierlift.engine.yamlsrc import InvalidFile, load


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidFile) as exc:
        load(text, "f.yaml")
    return [str(p) for p in exc.value.problems]


@pytest.mark.parametrize("written", ["2026-02-30", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00+99:00"])
def test_an_impossible_date_is_kept_as_written_for_its_key_to_refuse(written):
    # PyYAML's timestamp constructor raised a bare ValueError: a traceback, exit 1.
    data, pos = load(f"a: 1\nstart_time: {written}\nholidays: [{written}]\n", "f.yaml")
    assert data["start_time"] == written and data["holidays"] == [written]
    assert pos.line(("start_time",)) == 2


def test_a_real_date_is_still_a_date():
    data, _ = load("d: 2026-02-28\n", "f.yaml")
    assert data["d"].isoformat() == "2026-02-28"


def test_nesting_thousands_deep_is_a_problem_not_a_recursion_error():
    (problem,) = problems("helpdesks: " + "[" * 3000 + "]" * 3000 + "\n")
    assert problem.startswith("f.yaml:1: ") and "nested more than" in problem
    data, _ = load("a: " + "[" * 50 + "]" * 50 + "\n", "f.yaml")  # a sane depth still reads


def test_an_integer_too_long_to_read_is_a_problem():
    (problem,) = problems("a: " + "9" * 5000 + "\n")
    assert "could not be read" in problem


@pytest.mark.parametrize("quote", ['"', "'"])
def test_an_unclosed_quote_is_reported_where_it_opens(quote):
    # PyYAML says "found unexpected end of stream"; the check looked for "stream end".
    (problem,) = problems(f"a: 1\ntoken: {quote}abc\nb: 2\nc: 3\n")
    assert problem.startswith("f.yaml:2: ") and "never closed" in problem


def test_an_unclosed_bracket_is_reported_where_it_opens():
    (problem,) = problems("a: 1\nb: [1,\n")
    assert "never closed" in problem


def test_a_merge_key_shares_settings_and_the_mappings_own_keys_win():
    # `<<: *base` was refused: "could not determine a constructor for the tag ...merge".
    data, pos = load("helpdesks:\n"
                     "  - &base {kind: zendesk, email: bot@acme.com, policy: three-tier, name: one}\n"
                     "  - <<: *base\n"
                     "    name: two\n"
                     "    policy: teamflow\n", "t.yaml")
    assert data["helpdesks"][1] == {"kind": "zendesk", "email": "bot@acme.com", "policy": "teamflow", "name": "two"}
    assert pos.line(("helpdesks", 1, "policy")) == 5 and pos.line(("helpdesks", 1, "email")) == 2


def test_a_key_written_twice_beside_a_merge_is_still_a_duplicate():
    with pytest.raises(InvalidFile) as err:
        load("a: &x {k: 1}\nb:\n  <<: *x\n  k: 2\n  k: 3\n", "t.yaml")
    assert "duplicate key 'k'" in str(err.value.problems[0]), err.value.problems


def test_aliases_of_aliases_are_walked_once_for_their_lines():
    # Each level refers to the one before ten times: 10^5 key paths. Every one was walked
    # for its line (a 600-byte file of seven levels took 35 s to check).
    levels = ["a0: &a0 [x, y]"] + [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 6)]
    data, pos = load("\n".join(levels) + "\n", "t.yaml")
    assert len(data["a5"]) == 10 and data["a5"][0][0][0][0][0] == ["x", "y"]
    assert len(pos.lines) < 200, len(pos.lines)
    assert pos.line(("a5", 3, 2)) == 5  # a path inside an alias: the line of the anchor it names
