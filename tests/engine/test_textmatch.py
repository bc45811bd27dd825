"""The text matchers: a regex's prefilter never rejects a text the regex matches."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierlift.engine.textmatch import (
    PhraseScanner,
    keywords_matcher,
    literal_alternatives,
    pack_phrases,
    prefilter,
    regex_matcher,
    required_literals,
    required_needs,
)

POLICIES = Path(__file__).resolve().parents[2] / "policies"

_ATOMS = st.sampled_from(["a", "b", "c", "ab", "abc", "bca", " ", "-", r"\.", r"\b", r"\s", r"\w", ".", "[ab]",
                          "[^a]", "^", "$", "{", "}", "(?<=a)"])
# Bounded quantifiers only: nested or chained `*` and `+` can make `re` backtrack for
# minutes on a failing text. The reader reads every quantifier the same way, and
# `*`, `+` and their lazy forms are covered by the examples below.
_QUANTIFIERS = st.sampled_from(["", "", "", "?", "??", "{2}", "{1,2}", "{,2}", "{1,2}?"])


def _patterns() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        seq = st.lists(inner, min_size=1, max_size=4).map("".join)
        alts = st.lists(seq, min_size=1, max_size=3).map("|".join)
        opener = st.sampled_from(["(", "(?:", "(?P<g>", "(?=", "(?!", "(?>"])
        grouped = st.tuples(opener, alts).map(lambda t: t[0] + t[1] + ")")
        return st.one_of(seq, alts, st.tuples(grouped, _QUANTIFIERS).map("".join))

    leaf = st.tuples(_ATOMS, _QUANTIFIERS).map("".join)
    return st.recursive(leaf, extend, max_leaves=8).filter(_valid)


def _valid(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data(), pattern=_patterns())
def test_the_prefilter_never_rejects_a_text_the_regex_matches(data, pattern):
    texts = [data.draw(st.text(alphabet="abc -.x", max_size=24))]
    # A pattern hypothesis cannot generate from (it raises): random text only.
    with contextlib.suppress(Exception):
        texts.append(data.draw(st.from_regex(pattern)).lower())
    required = required_literals(pattern)
    # Plain alternations of literals are substring checks by design (`\s` reads as a space).
    match = regex_matcher(pattern) if literal_alternatives(pattern) is None else None
    for text in texts:
        found = re.search(pattern, text, re.IGNORECASE) is not None
        if required:
            assert prefilter(required)(text) or not found, (pattern, text, required)
        if match is not None:
            assert match(text) == found, (pattern, text)


def test_literals_are_read_through_groups_and_stop_at_quantifiers():
    assert required_literals(r"\b(production|prod)\b[^.\n]{0,40}?\b(down|offline)\b") == [
        [["production", "prod"], ["down", "offline"]]]
    assert required_literals(r"a{2}bcd") == [[["bcd"]]]
    assert required_literals(r"abcd?e") == [[["abc"]]]
    assert required_literals(r"xyz*cde+fghi*?jklmn+?") == [[["jklm"]]]
    assert required_literals(r"x{}yz") == [[["x{}yz"]]]  # "{}" is no quantifier in re: literal braces
    assert required_literals(r"(?:fire|flood) alarm|smoke") == [[[" alarm"], ["fire", "flood"]], [["smoke"]]]


def test_syntax_the_reader_does_not_know_means_no_prefilter():
    for pattern in (r"(?x) a b c d", r"(abc)\1defg", r"\x41bcd", r"(?s)abcd", r"ab|c"):
        assert required_literals(pattern) is None, pattern


def _text_patterns(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [v for k, v in node.items() if k in ("text", "subject", "description", "comments", "matches")
               and isinstance(v, str)]
        return own + [p for v in node.values() for p in _text_patterns(v)]
    if isinstance(node, list):
        return [p for v in node for p in _text_patterns(v)]
    return []


def test_every_regex_of_the_shipped_packs_runs_behind_a_prefilter_or_as_substrings():
    patterns = [p for f in sorted(POLICIES.glob("*.yaml")) for p in _text_patterns(yaml.safe_load(f.read_text()))]
    assert len(patterns) > 20
    for pattern in patterns:
        bare = pattern.removeprefix("(?i)")
        assert literal_alternatives(bare) is not None or required_literals(bare), pattern


def test_escapes_read_as_what_they_match():
    for pattern, text in ((r"abc\sde", "abc\tde"), (r"abc\Sde", "abcxde"), (r"abc\.def", "abc.def"),
                          (r"abc\d{2}def", "abc12def"), (r"abc\bdef|abc\b def", "abc def"),
                          (r"(?P<w>abc|abd)(?=def)de", "abcdef"), (r"abc[\]]def", "abc]def")):
        assert re.search(pattern, text), pattern
        required = required_literals(pattern)
        assert required and prefilter(required)(text), (pattern, required)


def test_an_upper_case_escape_keeps_its_meaning_in_a_lower_case_pattern():
    # The pattern is lower-cased to run without IGNORECASE; \S must not become \s.
    assert regex_matcher(r"foo\Sbar")("fooxbar") and not regex_matcher(r"foo\Sbar")("foo bar")
    assert regex_matcher(r"order\W+number")("order number")
    assert regex_matcher(r"\d\D\d")("1x2") and not regex_matcher(r"\d\D\d")("123")
    assert not regex_matcher(r"\Bsecure")("secure") and regex_matcher(r"\Bsecure")("insecure")
    assert regex_matcher("caf\u00c9 ouvert")("caf\u00e9 ouvert")  # a non-ASCII capital still folds


def test_a_group_between_word_edges_is_required_as_a_whole_word():
    assert required_needs(r"\b(production|prod)\b[^.\n]{0,40}?\b(down|offline)\b") == [
        [(["production", "prod"], True), (["down", "offline"], True)]]
    assert required_needs(r"(production|prod)[^.\n]{0,40}?\b(down|offline)s?\b") == [
        [(["production", "prod"], False), (["down", "offline"], False)]]
    match = regex_matcher(r"\b(api|dashboard)\b[^.\n]{0,40}?\b(down|offline)\b")
    assert not match("the api download page")  # "down" inside "download": not a whole word
    assert match("the api is down again") and match("dashboard: offline")


def test_matchers_of_one_pack_share_one_scan_and_a_late_phrase_still_counts():
    scanner = PhraseScanner()
    with pack_phrases(scanner):
        outage = keywords_matcher(["outage"])
        assert outage("a full outage today") and not outage("all good")
        # A matcher compiled after the pack's automaton was built: its phrases are added.
        breach = regex_matcher(r"\b(data breach|leak)\b")
    assert breach("a data breach today") and not breach("a full outage today")
    assert outage("a full outage today")
    assert scanner.scan("a data breach today").found == {"data breach"}
