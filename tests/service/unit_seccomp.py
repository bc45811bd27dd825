"""Run a command under the system-call filter a systemd unit file declares, as systemd would
load it: `/usr/bin/python3 unit_seccomp.py UNIT -- COMMAND...` (Debian's python3-seccomp,
libseccomp's own bindings; the test venv's Python does not have them).

What it reads of the unit: `SystemCallFilter=` lines (an allow list, then `~` deny lists,
groups expanded by `systemd-analyze syscall-filter`), `SystemCallErrorNumber=` (without it a
call outside the filter kills the process with SIGSYS, as systemd does) and
`MemoryDenyWriteExecute=` (writable and executable mappings refused; here with the filter's
default action, where systemd always answers EPERM).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import seccomp  # type: ignore[import-not-found]


def directives(unit: str, key: str) -> list[str]:
    out = []
    with open(unit, encoding="utf-8") as f:
        for line in f:
            name, sep, value = line.strip().partition("=")
            if sep and name.strip() == key:
                out.append(value.strip())
    return out


def expand(group: str) -> set[str]:
    text = subprocess.run(["systemd-analyze", "syscall-filter", group], capture_output=True, text=True,
                          check=True).stdout
    names: set[str] = set()
    for line in text.splitlines()[1:]:
        item = line.strip()
        if item and not item.startswith("#"):
            names |= expand(item) if item.startswith("@") else {item}
    return names


def allowed(unit: str) -> set[str]:
    allow: set[str] = set()
    for value in directives(unit, "SystemCallFilter"):
        deny = value.startswith("~")
        names = set().union(*(expand(n) if n.startswith("@") else {n} for n in value.lstrip("~").split()))
        allow = allow - names if deny else allow | names
    return allow


def build(unit: str) -> seccomp.SyscallFilter:
    errnos = directives(unit, "SystemCallErrorNumber")
    default = seccomp.ERRNO(getattr(errno, errnos[-1])) if errnos else seccomp.KILL_PROCESS
    f = seccomp.SyscallFilter(defaction=default)
    mdwe = (directives(unit, "MemoryDenyWriteExecute") or ["no"])[-1] == "yes"
    for name in sorted(allowed(unit)):
        if mdwe and name in ("mmap", "mprotect", "pkey_mprotect"):
            continue
        try:
            f.add_rule(seccomp.ALLOW, name)
        except (RuntimeError, ValueError, OSError):
            pass  # a name this kernel's libseccomp does not know
    if mdwe:  # what is not allowed below gets the default (EPERM, or the kill)
        write, execute = 0x2, 0x4
        for bits in (0, write, execute):
            f.add_rule(seccomp.ALLOW, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, write | execute, bits))
        for name in ("mprotect", "pkey_mprotect"):
            f.add_rule(seccomp.ALLOW, name, seccomp.Arg(2, seccomp.MASKED_EQ, execute, 0))
    return f


if __name__ == "__main__":
    unit, sep, command = sys.argv[1], sys.argv[2], sys.argv[3:]
    assert sep == "--" and command, "usage: unit_seccomp.py UNIT -- COMMAND..."
    build(unit).load()
    os.execv(command[0], command)
