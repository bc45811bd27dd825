"""Finding and loading policies: a built-in pack by name, or a YAML file by path."""

from __future__ import annotations

import difflib
from functools import lru_cache
from importlib import resources
from pathlib import Path

from tierlift.engine.policy import Policy, load_policy_text
from tierlift.engine.yamlsrc import InvalidFile, Problem
from tierlift.service.daemon.sourcefile import read_source


def builtin_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("tierlift.policies").iterdir() if p.name.endswith(".yaml"))


def policy_source(ref: str, base: Path | None = None) -> tuple[str, str]:
    """(text, source name) for a pack name or a path; raises InvalidFile when unreadable."""
    candidate = Path(ref)
    if base is not None and not candidate.is_absolute():
        candidate = base / candidate
    looks_like_path = ref.endswith((".yaml", ".yml")) or "/" in ref
    if looks_like_path or candidate.exists():
        return read_source(candidate, "policy file"), str(candidate)
    if ref in builtin_names():
        res = resources.files("tierlift.policies") / f"{ref}.yaml"
        return res.read_text(encoding="utf-8"), f"policies/{ref}.yaml"
    raise UnknownPolicy(ref, unknown_policy(ref))


class UnknownPolicy(InvalidFile):
    """A policy name that is neither a file nor a built-in pack: the config names it at its
    own FILE:LINE (config_models._policy), a command line flag as is."""

    def __init__(self, ref: str, message: str):
        super().__init__([Problem(ref, None, "", message)])
        self.message = message


def unknown_policy(ref: str) -> str:
    names = builtin_names()
    hint = difflib.get_close_matches(ref, names, n=1, cutoff=0.6)
    more = f"did you mean '{hint[0]}'? " if hint else ""
    return f"no policy file or built-in pack named '{ref}' ({more}built-in: {', '.join(names)})"


def load_policy(ref: str, base: Path | None = None) -> Policy:
    """The policy of a pack name or a path. Parsed once per text: 500 helpdesks on one
    pack share one Policy (a parse costs 20-30 ms; the Policy is immutable and its
    phrase scanner thread-safe), and a file that changed is parsed again."""
    text, source = policy_source(ref, base)
    return _parsed(text, source)


@lru_cache(maxsize=64)
def _parsed(text: str, source: str) -> Policy:
    return load_policy_text(text, source, name=Path(source).stem)
