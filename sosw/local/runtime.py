"""
The embedded runtime: everything sosw needs from AWS, on this machine.

- a moto server on 127.0.0.1 for DynamoDB, S3, SNS, SSM, CloudWatch, CloudFormation, Events, IAM;
- the local Lambda service, which runs the functions deployed there in subprocesses with their timeouts (their code
  found in the examples folder, in the given Worker folders, or else in the package ``sosw deploy`` uploaded), and
  relays the rest of the Lambda API to moto;
- a ticker that invokes the Orchestrator and the Scavenger every ``tick_period`` seconds, like the scheduled rules.

Unmodified boto3 code reaches it through the variables of :meth:`LocalRuntime.environ`. It keeps its files (function
logs, unpacked packages) in a temporary folder that :meth:`LocalRuntime.stop` removes.

.. code-block:: python

    from sosw.local.runtime import LocalRuntime

    with LocalRuntime('examples', tick_period=1) as runtime:
        runtime.deploy(workers=['sosw_tutorial_pull_tweeter_hashtags'])
        runtime.upload_configs('sosw_tutorial_pull_tweeter_hashtags')
        runtime.invoke('sosw_scheduler', {'lambda_name': 'sosw_tutorial_pull_tweeter_hashtags', 'job': {...}})
        runtime.start_ticker()
"""

import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

from botocore.exceptions import ClientError

from sosw import deploy as deployment
from sosw.deploy.constants import PACKAGES_PREFIX
from sosw.exceptions import InvocationError
from sosw.local.lambda_service import LocalLambdaService
from sosw.local.moto_server import MotoServer

logger = logging.getLogger(__name__)

TICKED_FUNCTIONS = ("sosw_orchestrator", "sosw_scavenger")


def is_not_deployed(err: Exception) -> bool:
    """Whether an invocation failed because the function does not exist (yet)."""
    return isinstance(err, ClientError) and err.response.get("Error", {}).get("Code") == "ResourceNotFoundException"


def invoke_sync(lambda_client: Any, function_name: str, payload: Any = None) -> Any:
    """Invoke a function with ``RequestResponse`` and return its decoded result.

    :raises InvocationError: The function raised or timed out; the message is its error.
    """
    response = lambda_client.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                    Payload=json.dumps(payload or {}).encode())
    body = response["Payload"].read()
    try:
        result = json.loads(body) if body else None
    except ValueError:
        message = (f"{function_name}: {lambda_client.meta.endpoint_url} answered no JSON ({body[:80]!r}); is it a "
                   f"Lambda service? For the embedded runtime, export AWS_ENDPOINT_URL_LAMBDA as `sosw local up` says")
        raise InvocationError(message) from None
    if response.get("FunctionError"):
        error = result.get("errorMessage") if isinstance(result, dict) else result
        raise InvocationError(f"{function_name} failed: {error}")
    return result


class LocalRuntime:
    """moto + the local Lambda service + the scheduled-rule ticker, started and stopped together.

    :param examples_dir: Folder with ``essentials/<function>/`` and ``workers/<function>/`` code and templates.
    :param tick_period: Seconds between Orchestrator/Scavenger runs once :meth:`start_ticker` is called.
    :param log_dir: Where the functions' output goes (a file per function); by default a folder of the runtime's
        temporary folder, removed by :meth:`stop` unless :attr:`keep_files` is set.
    :param moto_port: Port of the moto server; a free one by default.
    :param lambda_port: Port of the Lambda service; a free one by default.
    :param set_environ: Point this process's boto3 at the runtime while it runs (restored by :meth:`stop`).
    :param worker_dirs: Worker folders outside ``examples_dir`` (projects of ``sosw init``), each named after its
        function: :meth:`deploy` finds their stacks and the functions run their code.
    :param region: Region the runtime answers for; ``us-west-2`` by default.
    """

    def __init__(self, examples_dir: Union[str, Path] = "examples", tick_period: float = 60.0,
                 log_dir: Optional[Union[str, Path]] = None, moto_port: Optional[int] = None,
                 lambda_port: int = 0, set_environ: bool = True, worker_dirs: Sequence[Union[str, Path]] = (),
                 region: Optional[str] = None):
        self.examples_dir = Path(examples_dir).resolve()
        self.worker_dirs = [Path(folder).resolve() for folder in worker_dirs]
        self.tick_period = tick_period
        self.log_dir = Path(log_dir) if log_dir else None
        #: Leave the temporary folder (logs, unpacked packages) in place at :meth:`stop`, e.g. after a failure.
        self.keep_files = False
        self.work_dir: Optional[Path] = None
        self.moto = MotoServer(port=moto_port, region=region)
        self.lambdas: Optional[LocalLambdaService] = None
        self._lambda_port = lambda_port
        self._set_environ = set_environ
        self._saved_environ: Dict[str, Optional[str]] = {}
        self._ticker: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self.ticks = 0
        self.tick_errors: List[str] = []

    # Lifecycle -------------------------------------------------------------------------------------------------

    def environ(self) -> Dict[str, str]:
        """Variables that send boto3 (and the AWS CLI) to this runtime."""
        env = self.moto.environ()
        if self.lambdas is not None:
            env.update(self.lambdas.environ())
        return env

    def start(self) -> "LocalRuntime":
        """Start the moto server and the Lambda service (and point this process at them if ``set_environ``)."""
        self.moto.start()
        self.work_dir = Path(tempfile.mkdtemp(prefix="sosw-local-"))
        if self.log_dir is None:
            self.log_dir = self.work_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.lambdas = LocalLambdaService(port=self._lambda_port, proxy_endpoint=self.moto.endpoint,
                                          code_resolver=self.resolve_code, log_dir=str(self.log_dir),
                                          region=self.moto.region)
        self.lambdas.start()
        if self._set_environ:
            for name, value in self.environ().items():
                self._saved_environ.setdefault(name, os.environ.get(name))
                os.environ[name] = value
        return self

    def stop(self) -> None:
        """Stop the ticker, the Lambda service and the moto server, and restore the environment."""
        self.stop_ticker()
        if self.lambdas is not None:
            self.lambdas.stop()
            self.lambdas = None
        self.moto.stop()
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ = {}
        if self.work_dir is not None and not self.keep_files:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self.work_dir = None

    def __enter__(self) -> "LocalRuntime":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def resolve_code(self, function_name: str, configuration: Optional[Dict] = None) -> Optional[str]:
        """Local code folder of a deployed function: a Worker folder of ``worker_dirs`` of that name,
        ``essentials/<name>`` or ``workers/<name>`` of the examples, else the package ``sosw deploy`` uploaded for
        it, unpacked (a Worker deployed from another folder or another shell)."""
        candidates = [f for f in self.worker_dirs if f.name == function_name]
        candidates += [self.examples_dir / tier / function_name for tier in ("essentials", "workers")]
        for folder in candidates:
            if (folder / "app.py").exists():
                return str(folder)
        return self._unpack_deployed(function_name)

    def _unpack_deployed(self, function_name: str) -> Optional[str]:
        """Unpack ``sosw/packages/<function>.zip`` of the sosw bucket, if there is one, into the work folder.

        Its ``sosw/`` stays out: the installed sosw runs the function (and starts its process), as the copy is of it.
        """
        try:
            bucket = deployment.Executor(clients={"cloudformation": self.client("cloudformation")}).bucket
            key = f"{PACKAGES_PREFIX}{function_name}.zip"
            package = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except (deployment.DeployError, ClientError) as err:
            logger.info("No package of %s to run: %s", function_name, err)
            return None
        assert self.work_dir is not None
        folder = self.work_dir / "code" / f"{function_name}-{hashlib.sha256(package).hexdigest()[:12]}"
        if not folder.is_dir():
            with zipfile.ZipFile(io.BytesIO(package)) as archive:
                archive.extractall(folder, [n for n in archive.namelist() if not n.startswith("sosw/")])
        return str(folder)

    # Using it --------------------------------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A boto3 client aimed at this runtime, whatever this process's environment says."""
        import boto3

        env = self.environ()
        endpoint = env["AWS_ENDPOINT_URL_LAMBDA"] if service == "lambda" else env["AWS_ENDPOINT_URL"]
        # A plain callable: the service name is only known at run time, which the stubs' overloads cannot check.
        factory: Callable[..., Any] = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env["AWS_SESSION_TOKEN"], region_name=env["AWS_DEFAULT_REGION"],
        ).client
        return factory(service, endpoint_url=endpoint)

    def deploy(self, workers: Iterable[str] = (), log: Callable[[str], None] = logger.info) -> Dict[str, str]:
        """Deploy the examples' stacks (and the named workers) into moto's CloudFormation."""
        return deployment.deploy(self.examples_dir, workers=tuple(workers), log=log, poll_delay=0.2,
                                 worker_dirs=self.worker_dirs)

    def upload_configs(self, worker: Optional[str] = None, log: Callable[[str], None] = logger.info) -> Any:
        """Upload the Essentials' configs (with ``worker`` registered as a Labourer) to the config table, and
        recycle the deployed functions that read them, so that their next invocations read the new rows."""
        worker_dir = next((f for f in self.worker_dirs if f.name == worker), None)
        configs = deployment.upload_configs(self.examples_dir, worker=worker, log=log, worker_dir=worker_dir)
        stacks = deployment.discover_stacks(self.examples_dir, workers=[worker] if worker else [],
                                            worker_dirs=[worker_dir] if worker_dir else [])
        deployment.recycle_functions([s.function for s in stacks if s.function], log=log,
                                     lambda_client=self.client("lambda"))
        return configs

    def invoke(self, function_name: str, payload: Any = None) -> Any:
        """Invoke a function synchronously and return its decoded result.

        :raises InvocationError: The function failed; the message is its error.
        """
        return invoke_sync(self.client("lambda"), function_name, payload)

    def tick(self) -> Dict[str, Any]:
        """One run of the Orchestrator and one of the Scavenger, as their scheduled rules would trigger."""
        results = {}
        for name in TICKED_FUNCTIONS:
            results[name] = self.invoke(name, {"source": "sosw.local.ticker"})
        self.ticks += 1
        return results

    def start_ticker(self, period: Optional[float] = None) -> None:
        """Tick every ``period`` seconds in a background thread until :meth:`stop_ticker`."""
        if period is not None:
            self.tick_period = period
        if self._ticker is not None:
            return
        self._stop.clear()

        def run() -> None:
            waiting = False
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    self.tick()
                    waiting = False
                except Exception as err:  # keep ticking, like a scheduled rule does after a failed run
                    if not is_not_deployed(err):
                        self.tick_errors.append(str(err))
                        logger.warning("tick failed: %s", err)
                    elif not waiting:  # said once: a rule is not an error before its target exists
                        logger.info("not ticking until %s are deployed", " and ".join(TICKED_FUNCTIONS))
                    waiting = is_not_deployed(err)
                self._stop.wait(max(self.tick_period - (time.monotonic() - started), 0.05))

        self._ticker = threading.Thread(target=run, name="sosw-ticker", daemon=True)
        self._ticker.start()

    def stop_ticker(self) -> None:
        """Stop ticking; waits for a tick in progress to finish."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=max(self.tick_period, 1) + 120)
            self._ticker = None
