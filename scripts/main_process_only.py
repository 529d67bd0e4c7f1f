"""Run a command so that a stop signal reaches its main process only (systemd's KillMode=mixed).

`make run` starts gunicorn and the Celery worker under honcho, which stops a process by
signalling its whole process group. Celery's pool children and gunicorn's workers would then
get SIGTERM at the same moment as their parent, which is already stopping them gracefully:
the worker logged "Process 'ForkPoolWorker-2' exited with 'signal 15 (SIGTERM)'", started a
new child during its shutdown, and was SIGKILLed by honcho 5 s later. Here the command runs
in a process group of its own, SIGTERM and SIGINT are passed to its main process alone, and
this wrapper exits as the command did. If the wrapper itself is killed, the kernel kills the
command too (PR_SET_PDEATHSIG), so nothing is left behind.

    python scripts/main_process_only.py COMMAND [ARGS...]
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the wrapper is still correct, less tidy
        pass


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: main_process_only.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    child = subprocess.Popen(argv, process_group=0, preexec_fn=_die_with_parent)

    def stop(signum: int, frame: object) -> None:
        child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    returncode = child.wait()
    return 128 - returncode if returncode < 0 else returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
