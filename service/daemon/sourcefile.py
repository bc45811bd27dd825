"""Reading a file the user wrote (configuration, policy, cases, export): every way it cannot be
read said in the user's words, with the line where the text stops being UTF-8."""

from __future__ import annotations

from pathlib import Path

from tierlift.engine.yamlsrc import InvalidFile, Problem


def read_source(path: Path, what: str, *, missing: str | None = None, such_as: str | None = None) -> str:
    """The file's text; `what` names it in a message ("configuration file", "policy file").
    Raises InvalidFile naming the path (and the line, for text that is not UTF-8)."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidFile([Problem(source, None, "", missing or f"{what} not found")]) from None
    except IsADirectoryError:
        raise InvalidFile([Problem(source, None, "", f"is a directory: give the {what}"
                                   + (f", such as {such_as}" if such_as else " itself"))]) from None
    except PermissionError:
        raise InvalidFile([Problem(source, None, "", f"cannot read {what}: permission denied"
                                   " (the user running tierlift must be able to read it)")]) from None
    except OSError as exc:
        raise InvalidFile([Problem(source, None, "", f"cannot read {what}: {exc.strerror or exc}")]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # QA: a policy saved as Latin-1 said "cannot read policy file: UnicodeDecodeError".
        line = raw[:exc.start].count(b"\n") + 1
        raise InvalidFile([Problem(source, line, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x}): save the"
                                   f" {what} as UTF-8")]) from None
