"""Which process a select run belongs to, and whether that process, on this machine, still lives.

A rerun of a study after a hard kill marks the dead process's select run KILLED. Only a process
of this machine can be checked; trials, on any machine, are judged by Optuna's heartbeats
instead (:mod:`autotl.selection.study`). A PID alone is not enough: after a reboot, or in
another container, the same number names another process, so the tag also carries when the
process started (the boot and the clock tick, where ``/proc`` tells them).
"""

import os
import socket
import time
from pathlib import Path


def started(pid: int) -> str | None:
    """When process ``pid`` started: this boot's id and the clock tick since boot (Linux)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return f"{boot[:8]}.{fields[19]}"


_command_started: float | None = None
"""When the ``autotl`` command of this process started (monotonic clock), once ``main`` said so."""


def command_started() -> None:
    """Called by the command line's entry point, once: a budget is the wall time of the whole
    command, and importing torch and MLflow takes seconds (tens of them on a busy machine)."""
    global _command_started
    _command_started = time.monotonic() - _age()


def start_up() -> float:
    """Seconds since the command started (0 inside another program, such as a test's or a
    notebook's, where a budget starts at the call)."""
    return 0.0 if _command_started is None else time.monotonic() - _command_started


def _age() -> float:
    """Seconds since this process started (Linux; 0 where ``/proc`` cannot tell)."""
    try:
        since_boot = float(Path("/proc/uptime").read_text().split()[0])
        stat = Path("/proc/self/stat").read_text()
    except (OSError, ValueError):
        return 0.0
    ticks = int(stat.rsplit(")", 1)[1].split()[19])
    return max(0.0, since_boot - ticks / os.sysconf("SC_CLK_TCK"))


def this_process() -> str:
    """``host:pid``, and ``@start`` where the start can be told."""
    start = started(os.getpid())
    return f"{socket.gethostname()}:{os.getpid()}" + (f"@{start}" if start else "")


def is_gone(process: str | None) -> bool:
    """True for work of a process of this machine that has exited (or whose PID now names a
    process started later), and for work that names no process (an older autotl's) or names one
    of this machine malformed. A process of another machine cannot be checked from here, so its
    work counts as alive."""
    if not process:
        return True
    host, _, rest = process.rpartition(":")
    if host != socket.gethostname():
        return False
    pid, _, start = rest.partition("@")
    if not pid.isdigit():  # not a tag this code wrote: no process of it can be alive
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        pass
    return bool(start) and started(int(pid)) != start
