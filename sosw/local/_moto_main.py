"""
Run moto's server with the changes of ``sosw.local._moto_patches``, quietly (no line per request on stderr;
MotoServer keeps stderr to report why a start failed), and with ``--parent-pid PID`` exit when that process is gone,
however it ended (SIGKILL included), instead of running on unowned.

    python -m sosw.local._moto_main -H 127.0.0.1 -p 5000 [--parent-pid PID]
"""

import logging
import os
import sys
import threading
import time
from typing import List

from moto.server import main as moto_main

from sosw.local import _moto_patches


def _exit_with_parent(pid: int, period: float = 1.0) -> None:
    """Exit once ``pid`` is no longer this process's parent: it died, and this process was handed to another."""

    def watch() -> None:
        while os.getppid() == pid:
            time.sleep(period)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _take_parent_pid(argv: List[str]) -> List[str]:
    if "--parent-pid" not in argv:
        return argv
    at = argv.index("--parent-pid")
    _exit_with_parent(int(argv[at + 1]))
    return argv[:at] + argv[at + 2:]


def main(argv: List[str]) -> int:
    """Serve until killed.

    :param argv: moto server's arguments, and ``--parent-pid PID``.
    """
    arguments = _take_parent_pid(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _moto_patches.apply()
    moto_main(arguments)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
