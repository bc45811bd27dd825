"""YAML with positions: every value's line, so errors can say `FILE:LINE: key.path`.

`load(text, source)` returns plain Python data plus a `Positions` map from key
paths (tuples of keys and list indexes) to 1-based line numbers. Parsing is
PyYAML's safe loader; nothing here reads a file (the caller passes the text).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from tierlift.engine.errors import ConfigError

Path = tuple[Hashable, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, in the `FILE:LINE: key.path: message` shape."""

    source: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class InvalidFile(ConfigError):
    """A file with problems; `problems` lists every one found, not only the first."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


@dataclass
class Positions:
    source: str
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def problem(self, path: Path, message: str) -> Problem:
        return Problem(self.source, self.line(path), dotted(path), message)

    def sub(self, prefix: Path) -> Positions:
        """Positions re-rooted at `prefix` (for a section handled on its own)."""
        n = len(prefix)
        return Positions(
            self.source, {p[n:]: ln for p, ln in self.lines.items() if p[:n] == prefix}
        )


# Deeper than any tierlift file: PyYAML composes nodes recursively, and a file nested
# thousands of levels deep (`[[[[...`) crashed it with RecursionError, not a problem.
MAX_DEPTH = 100


class _Loader(yaml.SafeLoader):
    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _unique_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    # A merge key (`<<: *common`, the YAML way to share settings between helpdesks) was
    # refused: "could not determine a constructor for the tag ...merge". Merged keys come
    # first and the mapping's own keys may override them; only its own keys must be unique.
    own = sum(1 for k, _v in node.value if k.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    merged = len(node.value) - own
    mapping: dict[Any, Any] = {}
    seen: set[Any] = set()
    for i, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, list | dict):
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain value", key_node.start_mark
            )
        if i >= merged:
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


def _timestamp(loader: _Loader, node: yaml.ScalarNode) -> Any:
    # `2026-02-30` or `2026-13-01T00:00:00Z` looks like a timestamp to YAML but is no
    # date: PyYAML raised a bare ValueError (a traceback). Kept as the text written, the
    # key's own validator refuses it at its line and key path, as it does a quoted one.
    try:
        return loader.construct_yaml_timestamp(node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def _record(node: yaml.Node, path: Path, lines: dict[Path, int], loader: _Loader,
            walked: set[int] | None = None) -> None:
    """The line of every key path. A node reached again through an alias is not walked
    again (its keys fall back to the alias's line): a 600-byte file of aliases of aliases
    (10^7 paths) took 35 s to check."""
    lines[path] = node.start_mark.line + 1
    walked = set() if walked is None else walked
    if isinstance(node, yaml.CollectionNode):
        if id(node) in walked:
            return
        walked.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, Hashable):
                lines[path + (key,)] = key_node.start_mark.line + 1
                _record_child(value_node, path + (key,), lines, loader, walked)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record(item, path + (i,), lines, loader, walked)


def _record_child(node: yaml.Node, path: Path, lines: dict[Path, int], loader: _Loader, walked: set[int]) -> None:
    # A key's own line wins over its value's (a block mapping starts a line later).
    keep = lines.get(path)
    _record(node, path, lines, loader, walked)
    if keep is not None:
        lines[path] = keep


def load(text: str, source: str) -> tuple[Any, Positions]:
    """Parse YAML text; raise InvalidFile with the line of a syntax error."""
    positions = Positions(source)
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, positions
            data = loader.construct_document(node)
            _record(node, (), positions.lines, loader)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark, what = _where_and_what(exc)
        line = mark.line + 1 if mark else None
        raise InvalidFile([Problem(source, line, "", f"YAML syntax: {what}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidFile([Problem(source, None, "", f"YAML syntax: {exc}")]) from None
    except ValueError as exc:  # an integer of more than 4300 digits: Python refuses to read it
        raise InvalidFile([Problem(source, None, "", f"a value could not be read ({exc.__class__.__name__})")]) from None
    return data, positions


# PyYAML names the tag, alias or anchor it stumbled on; in a secret's place that
# name is the secret (`token: !abc123`, `token: *abc123`): say what is wrong without it.
_NAMED = (
    ("could not determine a constructor for the tag", "unknown tag (quote a value that starts with '!')"),
    ("found undefined alias", "undefined alias (quote a value that starts with '*')"),
    ("found duplicate anchor", "duplicate anchor (an '&' name is used twice)"),
)


def _unnamed(text: str | None) -> str | None:
    for start, plain in _NAMED:
        if text and text.startswith(start):
            return plain
    return text


def _where_and_what(exc: yaml.MarkedYAMLError) -> tuple[Any, str]:
    mark = exc.problem_mark or exc.context_mark
    problem, context = _unnamed(exc.problem), _unnamed(exc.context)
    what = problem or "invalid YAML"
    if context != exc.context:  # a name left out: the context says it all ("second occurrence")
        what = context or what
    elif context:
        what = f"{what} ({context})"
    # An unclosed bracket or quote is reported at the end of the file; the line
    # where it was opened is the one to look at. PyYAML's scanner says "end of
    # stream" (an unclosed quote), its parser "<stream end>" (a bracket).
    if exc.context_mark is not None and exc.problem and ("end of stream" in exc.problem
                                                         or "stream end" in exc.problem):
        what = f"{what}, opened here and never closed"
        mark = exc.context_mark
    return mark, what
