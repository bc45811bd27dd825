"""Text matchers for conditions: keyword lists and regular expressions over lower-cased text.

Why the care: a policy runs its text conditions on every changed ticket, and
Python's `re` with `(?i)` costs ~56 us per pattern on 1 KB. Text is
lower-cased once per ticket version; keyword lists and regexes that are plain
alternations of literals run as substring checks, and a general regex runs
only when a literal it requires is present.

Invariants:
- every matcher takes LOWER-CASED text and is case-insensitive by construction;
- the prefilter never rejects a text the regex matches: the literals it looks
  for are read from the pattern by a small reader of its own (no private `re`
  module) that knows a subset of the syntax and gives up, meaning "no
  prefilter", on anything else (flags groups, back-references, numeric escapes).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

Matcher = Callable[[str], bool]
# Per top-level alternative, groups of literals: a match holds one literal of EACH group.
Required = list[list[list[str]]]

_WORD = re.compile(r"\w")


def literal_alternatives(pattern: str) -> tuple[list[str], bool] | None:
    """If `pattern` is `\\b(a|b|c)\\b` or `a|b|c` of plain literals, return them.

    The bool says whether whole-word boundaries are required. Such patterns
    are by far the most common in policies, and substring search on
    lower-cased text is ~25x faster than `re` with IGNORECASE.
    """
    body = pattern
    words = False
    if body.startswith(r"\b") and body.endswith(r"\b"):
        body, words = body[2:-2], True
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
        if body.startswith("?:"):
            body = body[2:]
    if "(" in body or ")" in body:
        return None
    out = []
    for alt in body.split("|"):
        # Only letters, digits, spaces and a few safe escapes.
        lit = alt.replace(r"\ ", " ").replace(r"\s", " ").replace(r"\-", "-").replace(r"\.", ".")
        if not lit or re.search(r"[\\\[\]{}*+?^$.|]", lit.replace(".", "")):
            return None
        if "." in alt and r"\." not in alt:
            return None
        out.append(lit)
    return out, words


def _word_hit(text: str, lit: str) -> bool:
    start = text.find(lit)
    while start != -1:
        end = start + len(lit)
        before_ok = start == 0 or not _WORD.match(text[start - 1]) or not _WORD.match(lit[0])
        after_ok = end == len(text) or not _WORD.match(text[end]) or not _WORD.match(lit[-1])
        if before_ok and after_ok:
            return True
        start = text.find(lit, start + 1)
    return False


def keywords_matcher(phrases: list[str], words: bool = True) -> Matcher:
    lits = tuple(p.lower() for p in phrases)
    if words:
        def match(text: str) -> bool:
            for lit in lits:  # a loop, not any() over a generator: this runs on every ticket
                if lit in text and _word_hit(text, lit):
                    return True
            return False

        return match
    return lambda text: any(lit in text for lit in lits)


def regex_matcher(pattern: str) -> Matcher:
    """A matcher over lower-cased text; raises re.error for an invalid pattern."""
    bare = pattern[4:] if pattern.startswith("(?i)") else pattern
    lits = literal_alternatives(bare)
    if lits is not None:
        return keywords_matcher(lits[0], lits[1])
    # The text is already lower-case: without upper-case literals, IGNORECASE
    # only costs time (about 3x on 1 KB).
    flags = re.IGNORECASE if re.search(r"[A-Z]", re.sub(r"\\.", "", bare)) else 0
    rx = re.compile(_lower_literals(bare) if not flags else bare, flags)
    required = required_literals(bare)
    if required:
        # Every match contains these: skip the regex when they are absent.
        passes = prefilter(required)
        return lambda text: passes(text) and rx.search(text) is not None
    return lambda text: rx.search(text) is not None


def _lower_literals(pattern: str) -> str:
    """The pattern lower-cased except its letter escapes: `\\S` must not become `\\s`."""
    return _ESCAPE_OR_TEXT.sub(lambda m: m.group() if _LETTER_ESCAPE.fullmatch(m.group()) else m.group().lower(),
                               pattern)


_ESCAPE_OR_TEXT = re.compile(r"\\.|[^\\]+", re.DOTALL)
_LETTER_ESCAPE = re.compile(r"\\[A-Za-z]")


def prefilter(required: Required) -> Matcher:
    def passes(text: str) -> bool:
        for groups in required:  # any alternative...
            for lits in groups:  # ...whose every group has a literal in the text
                for lit in lits:
                    if lit in text:
                        break
                else:
                    break
            else:
                return True
        return False

    return passes


# --- what every match contains -------------------------------------------------


@dataclass(frozen=True)
class _Lit:
    char: str


@dataclass(frozen=True)
class _Group:
    """A plain or named group without a quantifier: its alternatives."""

    branches: list[list[_Node]]


class _Mark:
    """A piece that is zero-width (anchors, \\b) or consumes text we do not track."""

    def __init__(self, name: str):
        self.name = name


_ZERO = _Mark("zero-width")
_OTHER = _Mark("other")
_Node = _Lit | _Group | _Mark

_QUANTIFIER = re.compile(r"[*+?]|\{\d*(?:,\d*)?\}")
# Groups the reader looks into; any other "(?" (flags, comments, conditionals) stops it.
_OPENER = re.compile(r"\((\?:|\?P<\w+>|\?=|\?!|\?<=|\?<!|\?>)?")
_ZERO_ESCAPES = frozenset("bBAZ")
_CLASS_ESCAPES = frozenset("dDsSwWntrfva")


class _Unsupported(Exception):
    """Syntax the reader does not know: no prefilter, the regex always runs."""


class _Reader:
    """Reads the subset of `re` syntax whose literals are safe to require.

    A quantified piece, a character class, `.` and lookarounds become _OTHER
    (they end a literal run); groups keep their alternatives. `{` that is not
    a quantifier is a literal, as in `re`.
    """

    def __init__(self, pattern: str):
        self.p = pattern
        self.i = 0

    def alternatives(self) -> list[list[_Node]]:
        branches: list[list[_Node]] = [[]]
        while self.i < len(self.p) and self.p[self.i] != ")":
            if self.p[self.i] == "|":
                self.i += 1
                branches.append([])
            elif (q := _QUANTIFIER.match(self.p, self.i)) and q.group() != "{}":
                self._quantify(branches[-1], q.end())
            else:
                branches[-1].append(self._atom())
        return branches

    def _quantify(self, seq: list[_Node], end: int) -> None:
        if not seq:
            raise _Unsupported("nothing to repeat")
        seq[-1] = _OTHER
        self.i = end
        if self.i < len(self.p) and self.p[self.i] in "?+":  # lazy or possessive
            self.i += 1

    def _atom(self) -> _Node:
        ch = self.p[self.i]
        if ch == "(":
            return self._group()
        if ch == "[":
            self._skip_class()
            return _OTHER
        if ch == "\\":
            return self._escape()
        self.i += 1
        if ch == ".":
            return _OTHER
        return _ZERO if ch in "^$" else _Lit(ch)

    def _escape(self) -> _Node:
        if self.i + 1 >= len(self.p):
            raise _Unsupported("trailing backslash")
        ch = self.p[self.i + 1]
        self.i += 2
        if ch in _ZERO_ESCAPES:
            return _ZERO
        if ch in _CLASS_ESCAPES:
            return _OTHER
        if ch.isascii() and ch.isalnum():
            raise _Unsupported(f"escape \\{ch}")  # back-references, octal, \x \u \N ...
        return _Lit(ch)

    def _group(self) -> _Node:
        opener = _OPENER.match(self.p, self.i)
        if opener is None or self.p.startswith("(?", self.i) and not opener.group(1):
            raise _Unsupported("flags, comments, conditionals")
        self.i = opener.end()
        branches = self.alternatives()
        if self.i >= len(self.p):
            raise _Unsupported("unclosed group")
        self.i += 1
        plain = opener.group(1) in (None, "?:") or opener.group(1).startswith("?P<")
        return _Group(branches) if plain else _OTHER

    def _skip_class(self) -> None:
        i = self.i + 1
        if self.p.startswith("^", i):
            i += 1
        if self.p.startswith("]", i):
            i += 1
        while i < len(self.p) and self.p[i] != "]":
            i += 2 if self.p[i] == "\\" else 1
        if i >= len(self.p):
            raise _Unsupported("unclosed character class")
        self.i = i + 1


def _visible(seq: list[_Node]) -> list[_Node]:
    """Without the zero-width pieces: the literals either side of `\\b` are adjacent in a match."""
    return [n for n in seq if n is not _ZERO]


def _longest_run(seq: list[_Node]) -> str:
    best, run = "", ""
    for node in seq:
        if isinstance(node, _Lit):
            run += node.char
            best = max(best, run, key=len)
        else:
            run = ""
    return best.lower()


def _group_literals(node: _Node) -> list[str] | None:
    """`(a|b|c)` where every alternative holds a literal run of 3+ characters."""
    if not isinstance(node, _Group) or len(node.branches) < 2:
        return None
    lits = [_longest_run(_visible(b)) for b in node.branches]
    return lits if all(len(x) >= 3 for x in lits) else None


def _top_branches(branches: list[list[_Node]]) -> list[list[_Node]]:
    """The top-level alternatives, looking through groups that wrap the whole pattern."""
    while len(branches) == 1:
        items = _visible(branches[0])
        if len(items) != 1 or not isinstance(items[0], _Group):
            return [items]
        branches = items[0].branches
    return [_visible(b) for b in branches]


def required_literals(pattern: str) -> Required | None:
    """What every match contains, as a cheap prefilter: per top-level alternative,
    groups of literals such that a match holds one literal of EACH group.

    A group is the alternative's longest literal run of 3+ characters, or a
    subpattern of alternatives that each have one (`(down|offline|unreachable)`).
    None when some alternative has neither, or when the pattern uses syntax
    the reader does not know (then the regex always runs).
    """
    reader = _Reader(pattern)
    try:
        branches = reader.alternatives()
    except (_Unsupported, RecursionError):
        return None
    if reader.i != len(pattern):
        return None  # an unbalanced ")"
    out: Required = []
    for branch in _top_branches(branches):
        run = _longest_run(branch)
        groups = [[run]] if len(run) >= 3 else []
        groups += [g for g in map(_group_literals, branch) if g]
        if not groups:
            return None
        out.append(groups)
    return out
