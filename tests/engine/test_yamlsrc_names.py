"""A YAML error about what stands in a secret's place says what is wrong without echoing it."""

from __future__ import annotations

import pytest

from tierlift.engine.yamlsrc import InvalidFile, load

SECRET = "zd-LEAKED-abc123"


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidFile) as exc:
        load(text, "f.yaml")
    return [str(p) for p in exc.value.problems]


@pytest.mark.parametrize(("written", "said"), [
    (f"!{SECRET} x", "unknown tag"),
    (f"*{SECRET}", "undefined alias"),
])
def test_a_tag_or_alias_name_is_not_echoed(written, said):
    (problem,) = problems(f"name: hd\ntoken: {written}\n")
    assert problem.startswith("f.yaml:2: ") and said in problem
    assert SECRET not in problem


def test_a_duplicate_anchor_name_is_not_echoed():
    (problem,) = problems(f"a: &{SECRET} 1\nb: &{SECRET} 2\n")
    assert problem.startswith("f.yaml:2: ") and "duplicate anchor" in problem and SECRET not in problem
