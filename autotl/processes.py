"""Which process is doing a piece of work, and whether it still lives.

Several ``autotl select`` processes may share one study (``--storage``); a rerun after a hard
kill must mark what the dead process left RUNNING, and only that, as ended.
"""

import os
import socket


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def is_gone(process: str | None) -> bool:
    """True for work of a process that ran on this machine and has exited, and for work that
    names no process (an older autotl's) or names one of this machine malformed. A process on another machine cannot be checked from
    here, so its work counts as alive."""
    if not process:
        return True
    host, _, pid = process.rpartition(":")
    if host != socket.gethostname():
        return False
    if not pid.isdigit():  # not a tag this code wrote: no process of it can be alive
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False
