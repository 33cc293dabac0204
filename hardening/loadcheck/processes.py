"""What every process of a run shares: its failures, its descriptor limit, its RSS,
its lines on stderr, the deadline, and the core it must run."""

from __future__ import annotations

import sys
import time
from typing import Any

FD_MARGIN = 64  # descriptors besides the connections: listener, pipes, selector, loop


class LoadError(Exception):
    """A check failed, or the run cannot go on (the message says which)."""


class FdLimitError(LoadError):
    """This machine's RLIMIT_NOFILE cannot hold the connections: a limit, not a failure."""


def raise_fd_limit(needed: int) -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit; the soft limit, or
    LoadError when it cannot hold ``needed`` descriptors."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in (hard, needed):  # an infinite hard limit is refused on macOS: ask for what is needed
        if soft == resource.RLIM_INFINITY or (target != resource.RLIM_INFINITY and target <= soft):
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            continue
        soft = target
        break
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise FdLimitError(
            f"RLIMIT_NOFILE (soft {soft}, hard {hard}) cannot hold {needed} descriptors: "
            f"raise the hard limit (ulimit -Hn) or use fewer --connections"
        )
    return int(soft)


def status_bytes(field: str) -> int | None:
    """A size from /proc/self/status (VmRSS, VmHWM) in bytes; None where there is none."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_rss() -> int:
    """The process's peak resident set size in bytes."""
    hwm = status_bytes("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024  # bytes there, KiB elsewhere


def say(role: str, message: str) -> None:
    """A line on stderr, written at once (the processes share it)."""
    sys.stderr.write(f"load: {role}{': ' if role else ''}{message}\n")
    sys.stderr.flush()


def remaining(deadline: float) -> float:
    return deadline - time.time()


def check_core(core: str) -> Any:
    import fastframe as ff

    if core != ff.IMPLEMENTATION:
        raise LoadError(f"asked for the {core} core, fastframe imported {ff.IMPLEMENTATION}")
    return ff



def mib(size: float | None) -> str:
    return "n/a" if size is None else f"{size / 2**20:.1f} MiB"
