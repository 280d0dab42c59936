"""
One warm Lambda container: a ``python -m sosw.local._runner`` process serving one invocation at a time over the JSON
lines protocol of :mod:`sosw.local._runner`.
"""

import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

from sosw.local._runner import runtime_error
from sosw.local.constants import INIT_TIMEOUT

logger = logging.getLogger(__name__)


class WorkerTimedOut(Exception):
    """No reply within the time given; the process still runs."""


class WorkerExited(Exception):
    """The process died (or closed its protocol pipe); the message says how."""


class Worker:
    """One ``sosw.local._runner`` process.

    :param name: The function's name, for thread names and logs.
    :param handler: ``module.function``.
    :param code_dir: Imported from and the working directory; None: the service's.
    :param env: The whole environment of the process.
    :param log_path: File that receives what the process prints; None: the service's stderr.
    """

    def __init__(self, name: str, handler: str, code_dir: Optional[str], env: Dict[str, str],
                 log_path: Optional[Path]):
        command: List[str] = [sys.executable, "-m", "sosw.local._runner", handler]
        if code_dir:
            command.append(code_dir)
        log = open(log_path, "ab") if log_path else None
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,  # None: the handler's output goes to the service's stderr
                env=env,
                cwd=code_dir,
                # Its own process group, so that a timeout kills whatever the handler started too.
                start_new_session=os.name == "posix",
            )
        finally:
            if log:
                log.close()
        self.name = f"{name}[{self.process.pid}]"
        self._replies: queue.Queue[Optional[Dict[str, Any]]] = queue.Queue()
        self._kill_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name=f"lambda-reader:{self.name}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None  # Popen was given stdout=PIPE
        for line in self.process.stdout:
            try:
                self._replies.put(json.loads(line))
            except ValueError:
                logger.error("Worker %s broke the protocol with %r", self.name, line[:200])
                break
        self._replies.put(None)

    def _reply(self, timeout: float) -> Dict[str, Any]:
        try:
            reply = self._replies.get(timeout=max(0.0, timeout))
        except queue.Empty:
            raise WorkerTimedOut() from None
        if reply is None:
            raise WorkerExited(self._exit_status())
        return reply

    def _exit_status(self) -> str:
        try:
            code = self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return "closed its protocol pipe"
        return f"exit status {code}" if code >= 0 else f"signal {-code}"

    def wait_ready(self) -> Optional[Dict[str, Any]]:
        """Wait for the handler to be imported.

        :returns: None when ready, else the error body to answer.
        """
        try:
            reply = self._reply(INIT_TIMEOUT)
        except WorkerTimedOut:
            return runtime_error("Sandbox.Timedout", f"Init timed out after {INIT_TIMEOUT:.2f} seconds")
        except WorkerExited as exc:
            return runtime_error("Runtime.ExitError", f"Runtime exited during init: {exc}")
        return None if reply.get("ready") else reply["error"]

    def alive(self) -> bool:
        """Whether the process runs."""
        return self.process.poll() is None

    def invoke(self, message: Dict[str, Any], timeout: float) -> Dict[str, Any]:
        """Send one invocation and wait for its reply.

        :raises WorkerTimedOut: No reply within ``timeout`` seconds; the process still runs.
        :raises WorkerExited: The process died.
        """
        assert self.process.stdin is not None  # Popen was given stdin=PIPE
        try:
            self.process.stdin.write(json.dumps(message).encode("utf-8") + b"\n")
            self.process.stdin.flush()
        except OSError:
            raise WorkerExited(self._exit_status()) from None
        return self._reply(timeout)

    def kill(self) -> None:
        """Kill the process and its process group at once (Lambda gives no grace either), and reap it."""
        with self._kill_lock:
            # returncode is None until reaped: only then is the pid (and the group id) surely still ours.
            if self.process.returncode is None:
                try:
                    if os.name == "posix":
                        os.killpg(self.process.pid, signal.SIGKILL)
                    else:
                        self.process.kill()
                except ProcessLookupError:
                    pass
            self.process.wait()
            # The reader sees end of file once the process is gone; closing its pipe under it would race with it.
            self._reader.join(timeout=1)
            assert self.process.stdin is not None and self.process.stdout is not None  # both pipes
            self.process.stdin.close()
            if not self._reader.is_alive():
                self.process.stdout.close()
