"""Child processes: the environment in which a child Python imports the fastframe
this process imports, how a child script reaches the core its test runs, and the
start of a child whose address space is capped."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import fastframe as ff

from .paths import SRC

# The start of a child script that runs one core: argv[1] names the core's module
# (the test passes ``impl.module.__name__``), and ``core`` is that core as
# fastframe._cores gives it, so a child reaches it the way the tests do.
CHILD_CORE = textwrap.dedent(
    """
    import sys

    from fastframe._cores import CORES

    core = next(c for c in CORES if c.module.__name__ == sys.argv[1])
    """
)


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python that imports the fastframe this process
    imports: the source tree's is put on PYTHONPATH when it is not installed."""
    env = {**os.environ, **extra}
    if Path(ff.__file__).resolve().is_relative_to(SRC):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return env


def memory_capped_child(cap_mib: int) -> str:
    """The start of a child process whose address space is capped at ``cap_mib``
    MiB more than it uses once fastframe and the core named by argv[1] are imported
    (Linux): big allocations fail, so a test sees what a core reserves.  Defines
    ``ff``, ``core`` (CHILD_CORE's), ``MiB`` and ``vm(field)``; exits at once if
    the cap does not bite."""
    return CHILD_CORE + textwrap.dedent(
        f"""
        import resource, sys

        import fastframe as ff

        MiB = 1024 * 1024

        def vm(field):
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) * 1024
            raise LookupError(field)

        start = vm("VmSize")
        limit = start + {cap_mib} * MiB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:  # the cap really bites
            bytearray({cap_mib + 512} * MiB)
        except MemoryError:
            pass
        else:
            sys.exit("RLIMIT_AS is not enforced")
        """
    )


MEMORY_CAPPED_CHILD = memory_capped_child(1024)
