"""Files declared as pydantic models, and their validation errors as `FILE:LINE: key.path: message`.

Both the daemon's configuration (service/daemon/config_models.py) and the policy packs
(engine/policy_file.py) declare their shape the same way: a model per mapping, a validator
per value that refuses with `Invalid` in the file's own words, and `problems_of` to turn
pydantic's error locations into lines through the positions `engine/yamlsrc.py` recorded.
Pure: no I/O (the caller reads the file).

Invariants:
- the message is the validator's, never pydantic's echo of the input (a value may be a
  credential); pydantic's own message names only the type;
- a key the model does not declare is named with the closest declared one (`did you mean`),
  else with the list of declared keys; a model may word this itself (`unknown_key`);
- `Invalid.at` is a key path below the value validated, so one validator may report
  several problems, each at its own line.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from tierlift.engine.durations import DurationError, parse_duration
from tierlift.engine.yamlsrc import Path, Positions, Problem


class Invalid(ValueError):
    """A refused value: messages (each at a key path below the value's own) and, for a
    file that names another (a policy in the configuration), that file's problems."""

    def __init__(self, message: str, at: Path = (), *, more: Sequence[tuple[Path, str]] = (),
                 foreign: Sequence[Problem] = ()):
        super().__init__(message)
        self.found: list[tuple[Path, str]] = [(at, message), *more]
        self.foreign = list(foreign)

    @classmethod
    def of(cls, found: Sequence[tuple[Path, str]]) -> Invalid:
        (at, message), *more = found
        return cls(message, at, more=more)


def boolean(value: Any) -> bool:
    """YAML's true or false, nothing else (`yes`, 1 and "true" are refused with the value)."""
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {value!r}")
    return value


def duration(value: Any) -> timedelta:
    """A duration as both files write it ("90m", "2h", "1d 4h"); a timedelta passes."""
    if isinstance(value, timedelta):
        return value
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise Invalid(str(exc)) from None


def problems_of(exc: ValidationError, pos: Positions, root: type[BaseModel], prefix: Path = ()) -> list[Problem]:
    """Each validation error of a `root` model as the file's problem, at the line of the key to
    blame (`prefix`: where the model's data sits in the file)."""
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        path, owner, at = _key_path(err["loc"], root)
        out.extend(_explain(err, prefix + path, owner, at, pos))
    return out


def _explain(err: Any, path: Path, owner: type[BaseModel], at: Any, pos: Positions) -> list[Problem]:
    kind = err["type"]
    error = (err.get("ctx") or {}).get("error")
    if isinstance(error, Invalid):
        return [*error.foreign, *(pos.problem(path + sub, message) for sub, message in error.found)]
    if kind == "missing":
        return [pos.problem(path[:-1], f"missing required key '{path[-1]}'")]
    if kind == "extra_forbidden":
        own = getattr(owner, "unknown_key", None)
        key = str(path[-1])
        return [pos.problem(path, own(key) if own is not None else unknown(key, sorted(owner.model_fields)))]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        given = err["input"].get("kind") if isinstance(err["input"], Mapping) else None
        return [pos.problem(path + ("kind",), f"expected one of {', '.join(_kinds(at))}, got {given!r}")]
    # Never the input: it may be a credential. pydantic's own message names only the type.
    return [pos.problem(path, str(error) if error is not None else str(err["msg"]))]


def unknown(key: str, allowed: list[str]) -> str:
    """`unknown key 'x' (did you mean 'y'?)`, or the keys allowed when none is close."""
    head, _, tail = key.partition("_")
    if tail and head in allowed:  # `log_format: json` for `log: {format: json}`
        return f"unknown key '{key}' (did you mean '{head}: {{{tail}: ...}}'?)"
    return unknown_plain(key, allowed)


def unknown_plain(key: str, allowed: list[str]) -> str:
    hint = difflib.get_close_matches(key, allowed, n=1)
    more = f" (did you mean '{hint[0]}'?)" if hint else f" (expected one of: {', '.join(allowed)})"
    return f"unknown key '{key}'{more}"


def _key_path(loc: tuple[int | str, ...], root: type[BaseModel]) -> tuple[Path, type[BaseModel], Any]:
    """The file's key path of a pydantic location (without the tags pydantic adds for a
    `kind`), the model whose key the last part is, and the type expected there."""
    tp: Any = root
    owner: type[BaseModel] = root
    path: list[int | str] = []
    for part in loc:
        tp = _bare(tp)
        variants = _variants(tp)
        if variants:  # a helpdesk or channel: pydantic names its kind in the location
            tp = next((v for v in variants if _kinds(v) == [part]), None)
            continue
        path.append(part)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            owner = tp
            found = tp.model_fields.get(str(part))
            tp = found.annotation if found is not None else None
        else:  # a list's item or a mapping's value
            args = get_args(tp)
            tp = args[-1] if args else None
    return tuple(path), owner, _bare(tp)


def _bare(tp: Any) -> Any:
    """`tp` without Annotated metadata and without `| None`."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp):
            rest = [a for a in get_args(tp) if a is not type(None)]
            tp = rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
        else:
            return tp


def _variants(tp: Any) -> list[type[BaseModel]]:
    if get_origin(tp) not in (Union, types.UnionType):
        return []
    return [a for a in get_args(tp) if isinstance(a, type) and issubclass(a, BaseModel) and "kind" in a.model_fields]


def _kinds(tp: Any) -> list[str]:
    models = _variants(tp) or ([tp] if isinstance(tp, type) and issubclass(tp, BaseModel) else [])
    return [str(get_args(m.model_fields["kind"].annotation)[0]) for m in models if "kind" in m.model_fields]
