"""Start and stop a moto server in a subprocess on 127.0.0.1, and point boto3 at it."""

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import IO, Dict, Optional

#: What ``pip install 'sosw[local]'`` brings and the server imports: without them it cannot start.
SERVER_MODULES = ("moto", "flask", "flask_cors")
#: Lines of the server's own output quoted when it fails to start.
_TAIL_LINES = 5

#: Environment that makes unmodified boto3 code talk to a local endpoint with fake credentials.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-west-2",
    "AWS_REGION": "us-west-2",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_port_free(host: str, port: int) -> None:
    """Fail unless ``port`` can be listened on: a server already there would answer in our place.

    :raises RuntimeError: Naming the port.
    """
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as err:
            raise RuntimeError(f"port {port} on {host} is taken ({err.strerror}): another runtime may be running "
                               f"there; stop it or choose another port") from None


def check_installed() -> None:
    """Fail with the install command unless the server's dependencies can be imported.

    :raises RuntimeError: Naming what is missing.
    """
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise RuntimeError(f"the embedded runtime needs {', '.join(missing)}: pip install 'sosw[local]'")


class MotoServer:
    """A moto server in its own process, so that it serves requests while the caller's threads run.

    :param port: Port to listen on; a free one by default. A given port must be free: a server already there
        (another runtime) would answer in this one's place.
    :param host: Interface to listen on.
    :param region: Region of :meth:`environ`; ``us-west-2`` by default.

    .. code-block:: python

        with MotoServer() as server:
            os.environ.update(server.environ())
            boto3.client("dynamodb").list_tables()
    """

    def __init__(self, port: Optional[int] = None, host: str = "127.0.0.1", region: Optional[str] = None):
        self.host = host
        self.region = region or FAKE_CREDENTIALS["AWS_REGION"]
        self._given_port = port
        self.port = port or free_port()
        self.process: Optional[subprocess.Popen] = None
        self._output: Optional[IO[bytes]] = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def environ(self) -> Dict[str, str]:
        """Variables that send every boto3 client to this server."""
        return {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region,
                "AWS_ENDPOINT_URL": self.endpoint}

    def start(self, timeout: float = 30.0) -> "MotoServer":
        """Start the server and wait until it answers.

        :raises RuntimeError: The dependencies are missing, the port is taken, or the server failed to start (with
            the last lines it printed).
        """
        check_installed()
        if self._given_port:
            check_port_free(self.host, self.port)
        cmd = [sys.executable, "-m", "sosw.local._moto_main", "-H", self.host, "-p", str(self.port),
               "--parent-pid", str(os.getpid())]
        # A file, not a pipe: nobody reads it while the server runs, and a full pipe would block the server.
        self._output = tempfile.TemporaryFile()
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._output)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited with code {self.process.returncode}: {self._tail()}")
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).read()
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not answer on {self.endpoint} within {timeout} s")

    def _tail(self) -> str:
        assert self._output is not None
        self._output.seek(0)
        lines = self._output.read().decode("utf-8", "replace").strip().splitlines()
        return " | ".join(lines[-_TAIL_LINES:]) or "no output"

    def reset(self) -> None:
        """Forget every resource the server holds."""
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._output is not None:
            self._output.close()
            self._output = None

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
