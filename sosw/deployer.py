"""
Build-time deployment of sosw and its Workers with CloudFormation: what the bash loops of the installation guide do,
against whatever endpoint boto3 is configured for (real AWS, or a local moto server).

Nothing here ships in a Lambda package and no Lambda code imports it. As in Chalice, deployment is first *planned*
as a list of :class:`Action` objects (data, testable without AWS) and then *executed* by :class:`Executor`.

The examples directory has this layout (file names are the stack names; function folders are function names)::

    yaml/initial/*.yaml                         shared resources; sosw-s3-bucket.yaml is deployed first
    essentials/<function>/<dashed-function>.yaml + app.py + requirements.txt
    essentials/.config/<config_name>.json       config rows of the Essentials
    yaml/*.yaml                                 the scheduled rules
    workers/<function>/<dashed-function>.yaml   + app.py, requirements.txt, config/{labourer,self,task}.json

.. code-block:: python

    from sosw.deployer import deploy, upload_configs, cleanup

    statuses = deploy("examples", workers=["sosw_tutorial_pull_tweeter_hashtags"])
    upload_configs("examples", worker="sosw_tutorial_pull_tweeter_hashtags")
    cleanup("examples")
"""

import base64
import hashlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import boto3
from botocore.exceptions import ClientError, WaiterError

from sosw import constants
from sosw.components.helpers import camel_case_to_underscore, recursive_update
from sosw.exceptions import SoswError

logger = logging.getLogger(__name__)

__all__ = [
    "Action",
    "BuildPackage",
    "DeleteStacks",
    "DeployError",
    "DeployStacks",
    "EmptyBucket",
    "Executor",
    "Stack",
    "SyncFunctionCode",
    "UploadPackage",
    "build_package",
    "cleanup",
    "code_sha256",
    "default_examples_dir",
    "deploy",
    "discover_stacks",
    "plan_cleanup",
    "plan_deploy",
    "recycle_functions",
    "render_configs",
    "requirements_of",
    "upload_configs",
]

PathLike = Union[str, Path]
Log = Callable[[str], Any]

BUCKET_STACK = "sosw-s3-bucket"
BUCKET_OUTPUT = "BucketName"
PACKAGES_PREFIX = "sosw/packages/"
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]

#: Deployment order. Each tier imports exports of the tiers before it, so cleanup goes the other way round.
TIERS = ("bucket", "initial", "essentials", "rules", "workers")

#: The parts of the ``sosw`` package that never run inside a Lambda.
BUILD_TIME_PARTS = ("local", "cli.py", "deployer.py", "scaffold.py", "__main__.py", "_examples", "_templates")

#: Top-level entries of a function folder that stay out of its package: configs travel through the config table
#: (``self.json`` may hold credentials) and tests do not run in Lambda.
NOT_PACKAGED = ("config", "tests", "conftest.py")

#: Requirement lines naming this package. The package index's ``sosw`` is the original project, another code base:
#: packages get this one, copied, never that one.
_OWN_NAME = re.compile(r"^sosw(?![\w.-])", re.IGNORECASE)
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:>=\s*(?P<floor>[0-9][0-9.]*))?\s*$")

#: Environment variable whose change makes Lambda start fresh containers, which read their config again.
RECYCLE_VARIABLE = "SOSW_CONFIG_UPDATED_AT"

#: Placeholders in the example configs, replaced with the caller's account and region.
ACCOUNT_PLACEHOLDER = "000000000000"
REGION_PLACEHOLDER = "us-west-2"
_ARN_REGION = re.compile(r"(arn:[\w-]+:[\w-]+:)" + re.escape(REGION_PLACEHOLDER) + r":")

_SOSW_DIR = Path(__file__).resolve().parent
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_NO_UPDATES = "No updates are to be performed"
_GONE = "DELETE_COMPLETE"
_OK = ("CREATE_COMPLETE", "UPDATE_COMPLETE", _GONE)
#: A stack whose creation failed can only be deleted; deploy replaces it.
_DEAD_ON_ARRIVAL = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED")
_OPERATION_STARTS = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS")


def default_examples_dir() -> Path:
    """The examples this sosw was installed with: ``sosw/_examples`` in a wheel or an sdist, the top-level
    ``examples`` folder in a checkout (where the packaging takes them from).

    :raises DeployError: When neither exists (a broken install).
    """
    for candidate in (_SOSW_DIR / "_examples", _SOSW_DIR.parent / "examples"):
        if (candidate / "essentials").is_dir():
            return candidate
    raise DeployError(f"no examples with essentials/ in {_SOSW_DIR / '_examples'}: reinstall sosw")


class DeployError(SoswError):
    """A deployment step failed; ``stack`` names the stack (if any) and the message says why.

    :param message: What went wrong.
    :param stack: The stack at fault.
    """

    def __init__(self, message: str, stack: Optional[str] = None):
        self.stack = stack
        super().__init__(f"{stack}: {message}" if stack else message)


# Discovery --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """A CloudFormation stack of the examples, and the function it packages (if any).

    :param name: Stack name: the template file name without ``.yaml``.
    :param template: Path of the template.
    :param tier: One of :data:`TIERS`.
    :param function: Name of the Lambda function built from ``source``.
    :param source: Folder whose files make the function's package.
    """

    name: str
    template: Path
    tier: str
    function: Optional[str] = None
    source: Optional[Path] = None


def _function_stack(source: Path, tier: str) -> Optional[Stack]:
    """The stack of a function folder: its template is ``<dashed-folder-name>.yaml``."""
    dashed = source.name.replace("_", "-")
    template = source / f"{dashed}.yaml"
    return Stack(dashed, template, tier, function=source.name, source=source) if template.is_file() else None


def _function_stacks(folder: Path, tier: str, names: Optional[Collection[str]] = None) -> Iterator[Stack]:
    if not folder.is_dir():
        return
    for source in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if names is not None and source.name not in names:
            continue
        stack = _function_stack(source, tier)
        if stack:
            yield stack
        elif names is not None:
            raise DeployError(f"{source} has no template {source.name.replace('_', '-')}.yaml")


def discover_stacks(
    examples_dir: PathLike, workers: Optional[Collection[str]] = (), worker_dirs: Sequence[PathLike] = ()
) -> List[Stack]:
    """Every stack of the examples directory, in deployment order (see :data:`TIERS`).

    :param examples_dir: The ``examples`` directory.
    :param workers: Worker folders under ``workers/`` (or among ``worker_dirs``) to include; ``None`` includes all.
    :param worker_dirs: Worker folders outside the examples (a project of ``sosw init``): the folder's name is the
        function's; they win over a Worker of the same name under ``workers/``.
    :return: The stacks, bucket first.
    :raises DeployError: When a named Worker has no folder or no template.
    """
    root = Path(examples_dir)
    stacks = [
        Stack(p.stem, p, "bucket" if p.stem == BUCKET_STACK else "initial")
        for p in sorted((root / "yaml" / "initial").glob("*.yaml"))
    ]
    stacks.extend(_function_stacks(root / "essentials", "essentials"))
    stacks.extend(Stack(p.stem, p, "rules") for p in sorted((root / "yaml").glob("*.yaml")))
    outside = {}
    for folder in map(Path, worker_dirs):
        stack = _function_stack(folder.resolve(), "workers")
        if stack is None:
            raise DeployError(f"{folder} has no template {folder.resolve().name.replace('_', '-')}.yaml")
        outside[stack.function] = stack
    wanted = None if workers is None else set(workers) - set(outside)
    found = [s for s in _function_stacks(root / "workers", "workers", wanted) if s.function not in outside]
    found += [s for name, s in sorted(outside.items()) if workers is None or name in workers]
    missing = set(workers or ()) - {s.function for s in found}
    if missing:
        raise DeployError(f"no Worker folder under {root / 'workers'} for {', '.join(sorted(missing))}")
    stacks.extend(found)
    return sorted(stacks, key=lambda s: TIERS.index(s.tier))


# Planning ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One step of a plan. The subclasses carry the data; :class:`Executor` knows how to perform each."""


@dataclass(frozen=True)
class BuildPackage(Action):
    """Zip the folder of ``stack`` (see :func:`build_package`)."""

    stack: Stack


@dataclass(frozen=True)
class UploadPackage(Action):
    """Put the package of ``function`` at ``sosw/packages/<function>.zip`` in the sosw bucket."""

    function: str


@dataclass(frozen=True)
class DeployStacks(Action):
    """Create or update the stacks (at once: they do not depend on each other), then wait for all of them."""

    stacks: Tuple[Stack, ...]


@dataclass(frozen=True)
class SyncFunctionCode(Action):
    """Load the uploaded package into ``function`` unless it runs it already.

    CloudFormation sees no change in a template whose S3 key stays the same, so an existing function keeps its old
    code after a stack update.
    """

    function: str


@dataclass(frozen=True)
class EmptyBucket(Action):
    """Delete every object (and object version) of the sosw bucket: CloudFormation cannot delete a bucket with any."""


@dataclass(frozen=True)
class DeleteStacks(Action):
    """Delete the stacks (at once), then wait for all of them."""

    names: Tuple[str, ...]


def _by_tier(stacks: Sequence[Stack]) -> Iterator[Tuple[str, List[Stack]]]:
    for tier in TIERS:
        members = [s for s in stacks if s.tier == tier]
        if members:
            yield tier, members


def plan_deploy(
    available: Sequence[Stack], existing: Collection[str] = (), selected: Optional[Collection[str]] = None
) -> List[Action]:
    """Plan a deployment: per tier, build and upload the packages, deploy the stacks, then refresh the code of the
    functions whose stacks existed before.

    :param available: Every known stack (see :func:`discover_stacks`).
    :param existing: Names of the stacks that exist now (in any state but ``DELETE_COMPLETE``).
    :param selected: Names of the stacks to deploy; ``None`` deploys all of ``available``. The bucket stack is added
        when a selected stack needs a package uploaded and the bucket stack does not exist.
    :return: The actions, in order.
    :raises DeployError: When a selected name is no known stack.
    """
    names = {s.name for s in available}
    unknown = set(selected or ()) - names
    if unknown:
        raise DeployError(f"unknown stacks {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}")
    chosen = [s for s in available if selected is None or s.name in selected]
    if any(s.function for s in chosen) and BUCKET_STACK not in existing:
        chosen.extend(s for s in available if s.name == BUCKET_STACK and s not in chosen)

    plan: List[Action] = []
    for _tier, stacks in _by_tier(chosen):
        for stack in stacks:
            if stack.function:
                plan += [BuildPackage(stack), UploadPackage(stack.function)]
        plan.append(DeployStacks(tuple(stacks)))
        plan.extend(SyncFunctionCode(s.function) for s in stacks if s.function and s.name in existing)
    return plan


def plan_cleanup(available: Sequence[Stack], existing: Collection[str]) -> List[Action]:
    """Plan the deletion of the existing stacks among ``available``, tier by tier in reverse deployment order, the
    bucket emptied just before its stack goes.

    :param available: Every known stack (see :func:`discover_stacks`).
    :param existing: Names of the stacks that exist now.
    :return: The actions, in order.
    """
    plan: List[Action] = []
    for tier, stacks in reversed(list(_by_tier([s for s in available if s.name in existing]))):
        if tier == "bucket":
            plan.append(EmptyBucket())
        plan.append(DeleteStacks(tuple(s.name for s in stacks)))
    return plan


# Packaging --------------------------------------------------------------------------------------------------------


def _is_build_time(relative: Path) -> bool:
    return relative.parts[0] in BUILD_TIME_PARTS


def _walk(root: Path, skip: Callable[[Path], bool]) -> Iterator[Tuple[Path, str]]:
    """Files under ``root`` as (path, archive name), sorted, without caches and what ``skip`` rejects."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or "__pycache__" in relative.parts or path.suffix == ".pyc" or skip(relative):
            continue
        yield path, relative.as_posix()


def _zip(entries: Sequence[Tuple[Path, str]]) -> bytes:
    """A zip whose bytes depend on the files' names and contents only, so that equal code gives an equal hash."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in sorted(entries, key=lambda entry: entry[1]):
            info = zipfile.ZipInfo(name, _ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def requirements_of(folder: PathLike) -> List[str]:
    """The requirement lines of a function folder's ``requirements.txt`` but the ones naming ``sosw``.

    :param folder: The function folder.
    :return: The lines, without comments and blanks; none when there is no file.
    """
    path = Path(folder) / "requirements.txt"
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not _OWN_NAME.match(line)]


def _version_tuple(version: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:4])


def _installed_files(requirement: str, folder: Path) -> Iterator[Tuple[Path, str]]:
    """The files of an installed distribution that satisfies ``name`` or ``name>=version``, with its metadata (so
    that ``importlib.metadata`` in the Lambda sees the version it runs)."""
    from importlib import metadata

    match = _REQUIREMENT.match(requirement)
    if not match:
        raise DeployError(f"{folder / 'requirements.txt'}: {requirement!r} is not 'name' or 'name>=version'; "
                          f"use --pip for it")
    try:
        distribution = metadata.distribution(match["name"])
    except metadata.PackageNotFoundError:
        raise DeployError(f"{folder / 'requirements.txt'}: {match['name']} is not installed here; install it or use "
                          f"--pip") from None
    if match["floor"] and _version_tuple(distribution.version) < _version_tuple(match["floor"]):
        raise DeployError(f"{folder / 'requirements.txt'}: {requirement} but {distribution.version} is installed")
    for file in distribution.files or ():
        path = Path(str(distribution.locate_file(file)))
        if ".." in file.parts or "__pycache__" in file.parts or file.suffix == ".pyc" or not path.is_file():
            continue  # scripts and caches: nothing a handler imports
        yield path, file.as_posix()


def _pip_install(requirements: List[str], folder: Path, target: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(target), *requirements]
    logger.debug("Running %s", cmd)
    try:
        subprocess.run(cmd, check=True)
    except subprocess.CalledProcessError as err:
        message = f"pip install of {folder / 'requirements.txt'} failed with exit code {err.returncode}"
        raise DeployError(message) from err


def build_package(source: PathLike, exclude: Collection[str] = (), pip: bool = False) -> bytes:
    """Zip a function folder into a Lambda package, reproducibly.

    The package holds the folder's files (but ``config/``, ``tests/`` and ``conftest.py``), the runtime part of the
    ``sosw`` package this module belongs to (without :data:`BUILD_TIME_PARTS`), and what the folder's
    ``requirements.txt`` names besides ``sosw``: copied from this environment (``name`` or ``name>=version`` lines,
    checked), or with ``pip`` installed by ``pip install --target``. A ``sosw`` line is never installed: the package
    index's ``sosw`` is the original project, and the package gets this one.

    :param source: The function folder.
    :param exclude: Top-level file names of the folder to leave out (its CloudFormation template).
    :param pip: Install the requirements with pip instead of copying them from this environment.
    :return: The zip file's bytes.
    :raises DeployError: When a requirement is not met here, or pip fails.
    """
    folder = Path(source)
    entries = list(_walk(folder, lambda rel: rel.parts[0] in NOT_PACKAGED or (len(rel.parts) == 1
                                                                                and rel.name in exclude)))
    entries += [(path, f"sosw/{name}") for path, name in _walk(_SOSW_DIR, _is_build_time)]
    requirements = requirements_of(folder)
    own = {name for _path, name in entries}
    if not pip:
        for requirement in requirements:
            entries += [(p, n) for p, n in _installed_files(requirement, folder) if n not in own]
        return _zip(entries)
    with tempfile.TemporaryDirectory(prefix="sosw-package-") as target:
        if requirements:
            _pip_install(requirements, folder, Path(target))
        entries += [(p, n) for p, n in _walk(Path(target), lambda rel: False) if n not in own]
        return _zip(entries)


def code_sha256(package: bytes) -> str:
    """The ``CodeSha256`` Lambda reports for a function running ``package``.

    :param package: The zip file's bytes.
    :return: Base64 of the SHA-256 digest.
    """
    return base64.b64encode(hashlib.sha256(package).digest()).decode()


# Execution --------------------------------------------------------------------------------------------------------


def _error_code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


def _error_message(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Message", str(err))


def first_failure(events: Sequence[Dict[str, Any]], stack_name: str) -> str:
    """Why the first resource that failed in the stack's last operation failed: the cause, where the later failures
    are mostly "Resource creation cancelled".

    :param events: The stack's events, newest first, as DescribeStackEvents lists them.
    :param stack_name: The stack, whose own events mark where its last operation started.
    :return: ``"<LogicalResourceId>: <reason>"``, or ``""`` when nothing failed.
    """
    failed = []
    for event in events:  # newest first, back to the start of the last operation
        if event["LogicalResourceId"] == stack_name and event["ResourceStatus"] in _OPERATION_STARTS:
            break
        if event["ResourceStatus"].endswith("_FAILED") and event.get("ResourceStatusReason"):
            failed.append(event)
    return f"{failed[-1]['LogicalResourceId']}: {failed[-1]['ResourceStatusReason']}" if failed else ""


@dataclass
class Executor:
    """Performs the actions of a plan against AWS and reports the final status of each stack.

    :param session: The boto3 session; the default session when ``None``.
    :param log: Called with one line of report per stack and per notable step.
    :param pip: Build packages with ``pip install -r requirements.txt`` (see :func:`build_package`).
    :param poll_delay: Seconds between two status checks of a stack or function.
    :param timeout: Seconds to wait for one stack operation.
    :param clients: boto3 clients by service name (``'cloudformation'``, ``'s3'``, ``'lambda'``); a given client wins
        over one of the session.

    .. code-block:: python

        executor = Executor(log=print)
        plan = plan_deploy(discover_stacks("examples"), existing=executor.existing_stacks())
        statuses = executor.execute(plan)
    """

    session: Optional[boto3.Session] = None
    log: Log = print
    pip: bool = False
    poll_delay: int = 5
    timeout: int = 1800
    clients: Dict[str, Any] = field(default_factory=dict, repr=False)
    statuses: Dict[str, str] = field(default_factory=dict, init=False)
    _packages: Dict[str, bytes] = field(default_factory=dict, init=False, repr=False)
    _bucket: Optional[str] = field(default=None, init=False, repr=False)

    def client(self, service: str) -> Any:
        """A boto3 client of the session, created once.

        :param service: The service name, e.g. ``'cloudformation'``.
        :return: The client.
        """
        if service not in self.clients:
            self.clients[service] = (self.session or boto3.Session()).client(service)
        return self.clients[service]

    def existing_stacks(self) -> Dict[str, str]:
        """Status of every stack of the account and region but the deleted ones.

        :return: Status by stack name.
        """
        cloudformation = self.client("cloudformation")
        # Deleted stacks stay listed for 90 days: filter them out on the server rather than page through them.
        alive = [s for s in cloudformation.meta.service_model.shape_for("StackStatus").enum if s != _GONE]
        statuses: Dict[str, str] = {}
        for page in cloudformation.get_paginator("list_stacks").paginate(StackStatusFilter=alive):
            statuses.update({s["StackName"]: s["StackStatus"] for s in page["StackSummaries"]})
        return statuses

    def execute(self, plan: Sequence[Action]) -> Dict[str, str]:
        """Perform the plan in order; stop after the first step whose stacks did not all succeed.

        :param plan: The actions (see :func:`plan_deploy`, :func:`plan_cleanup`).
        :return: The final status of every stack the plan touched.
        """
        for action in plan:
            handler = getattr(self, f"_{camel_case_to_underscore(type(action).__name__)}")
            if handler(action) is False:
                self.log("Stopping: the stacks above did not all succeed.")
                break
        return self.statuses

    @property
    def bucket(self) -> str:
        """Name of the sosw bucket, read from the outputs of the bucket stack."""
        if self._bucket is None:
            outputs = self._describe(BUCKET_STACK).get("Outputs", [])
            names = [o["OutputValue"] for o in outputs if o["OutputKey"] == BUCKET_OUTPUT]
            if not names:
                raise DeployError(f"the stack has no output {BUCKET_OUTPUT}; deploy it first", BUCKET_STACK)
            self._bucket = names[0]
        return self._bucket

    def _describe(self, name: str) -> Dict[str, Any]:
        try:
            return self.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as err:
            raise DeployError(_error_message(err), name) from err

    def _status(self, name: str) -> Optional[str]:
        """Current status, or ``None`` when the stack does not exist."""
        try:
            return self.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        except ClientError as err:
            if _error_code(err) == "ValidationError" and "does not exist" in _error_message(err):
                return None
            raise DeployError(_error_message(err), name) from err

    def _failure_reason(self, name: str) -> str:
        try:
            events = self.client("cloudformation").describe_stack_events(StackName=name)["StackEvents"]
        except ClientError:
            return ""
        return first_failure(events, name)

    def _wait(self, waiter_name: str, name: str) -> str:
        attempts = max(1, self.timeout // max(1, self.poll_delay))
        config = {"Delay": self.poll_delay, "MaxAttempts": attempts}
        try:
            self.client("cloudformation").get_waiter(waiter_name).wait(StackName=name, WaiterConfig=config)
        except WaiterError as err:
            logger.debug("Waiter %s of %s: %s", waiter_name, name, err)
        return self._status(name) or _GONE

    def _report(self, name: str, status: str, note: str = "") -> bool:
        self.statuses[name] = status
        reason = "" if status in _OK else self._failure_reason(name)
        self.log(f"{name}: {status}{note}{f' ({reason})' if reason else ''}")
        return status in _OK

    # One method per Action class, named after it: BuildPackage -> _build_package ---------------------------------

    def _build_package(self, action: BuildPackage) -> None:
        stack = action.stack
        if stack.function is None or stack.source is None:
            raise DeployError("the stack has no function to package", stack.name)
        self._packages[stack.function] = build_package(stack.source, exclude={stack.template.name}, pip=self.pip)
        logger.debug("Packaged %s: %d bytes", stack.function, len(self._packages[stack.function]))

    def _upload_package(self, action: UploadPackage) -> None:
        key = f"{PACKAGES_PREFIX}{action.function}.zip"
        self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=self._packages[action.function])
        logger.debug("Uploaded s3://%s/%s", self.bucket, key)

    def _start_deploy(self, stack: Stack) -> Optional[str]:
        """Create or update the stack; return the waiter to use, or ``None`` when there is nothing to wait for."""
        cloudformation = self.client("cloudformation")
        arguments = {"StackName": stack.name, "TemplateBody": stack.template.read_text(), "Capabilities": CAPABILITIES}
        status = self._status(stack.name)
        if status == "DELETE_FAILED":
            raise DeployError("a deletion of the stack failed; run the cleanup again first", stack.name)
        try:
            if status in _DEAD_ON_ARRIVAL:
                self.log(f"{stack.name}: {status} after a failed creation; deleting it to create it again")
                cloudformation.delete_stack(StackName=stack.name)
                status = self._wait("stack_delete_complete", stack.name)
                if status != _GONE:
                    raise DeployError(f"could not delete the failed stack: {status}", stack.name)
            if status in (None, _GONE):
                cloudformation.create_stack(**arguments)
                return "stack_create_complete"
            cloudformation.update_stack(**arguments)
            return "stack_update_complete"
        except ClientError as err:
            if _NO_UPDATES in _error_message(err):
                return None
            raise DeployError(_error_message(err), stack.name) from err

    def _deploy_stacks(self, action: DeployStacks) -> bool:
        waiters = {stack.name: self._start_deploy(stack) for stack in action.stacks}
        ok = True
        for name, waiter in waiters.items():
            if waiter is None:
                ok &= self._report(name, self._status(name) or _GONE, " (no changes)")
            else:
                ok &= self._report(name, self._wait(waiter, name))
        return ok

    def _sync_function_code(self, action: SyncFunctionCode) -> bool:
        lambda_client = self.client("lambda")
        expected = code_sha256(self._packages[action.function])
        if lambda_client.get_function_configuration(FunctionName=action.function)["CodeSha256"] == expected:
            return True
        lambda_client.update_function_code(
            FunctionName=action.function, S3Bucket=self.bucket, S3Key=f"{PACKAGES_PREFIX}{action.function}.zip"
        )
        config = {"Delay": self.poll_delay, "MaxAttempts": max(1, self.timeout // max(1, self.poll_delay))}
        try:
            lambda_client.get_waiter("function_updated_v2").wait(FunctionName=action.function, WaiterConfig=config)
        except WaiterError as err:
            self.log(f"{action.function}: code update failed ({err})")
            return False
        self.log(f"{action.function}: code updated")
        return True

    def _empty_bucket(self, action: EmptyBucket) -> None:
        try:
            bucket = self.bucket
        except DeployError as err:
            logger.debug("Nothing to empty: %s", err)  # a bucket stack whose creation failed has no bucket
            return
        s3 = self.client("s3")
        deleted = 0
        try:
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                objects = [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
                ]
                if objects:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
                    deleted += len(objects)
        except ClientError as err:
            if _error_code(err) != "NoSuchBucket":
                raise DeployError(_error_message(err), BUCKET_STACK) from err
        self.log(f"{bucket}: {deleted} objects deleted")

    def _delete_stacks(self, action: DeleteStacks) -> bool:
        for name in action.names:
            try:
                self.client("cloudformation").delete_stack(StackName=name)
            except ClientError as err:
                raise DeployError(_error_message(err), name) from err
        ok = True
        for name in action.names:
            ok &= self._report(name, self._wait("stack_delete_complete", name))
        return ok


# Entry points -----------------------------------------------------------------------------------------------------


def deploy(
    examples_dir: PathLike,
    stacks: Optional[Collection[str]] = None,
    workers: Collection[str] = (),
    session: Optional[boto3.Session] = None,
    pip: bool = False,
    log: Log = print,
    poll_delay: float = 5,
    timeout: int = 1800,
    worker_dirs: Sequence[PathLike] = (),
) -> Dict[str, str]:
    """Deploy the sosw stacks: initial (bucket first), Essentials, scheduled rules, then the given Workers.

    Creates missing stacks, updates existing ones ("no updates" is no error), waits for each, refreshes the code of
    functions that existed before, and reports each stack's final status with one line to ``log``. Stops after the
    first tier in which a stack failed: the next tiers import its exports.

    :param examples_dir: The ``examples`` directory.
    :param stacks: Names of the stacks to deploy; all of them (and the given Workers) when ``None``.
    :param workers: Workers to deploy too: folders under ``workers/`` or among ``worker_dirs``.
    :param session: The boto3 session; the default one when ``None``.
    :param pip: Install the functions' requirements with pip instead of copying them from this environment (see
        :func:`build_package`).
    :param log: Receives the report lines.
    :param poll_delay: Seconds between two status checks.
    :param timeout: Seconds to wait for one stack operation.
    :param worker_dirs: Worker folders outside the examples (see :func:`discover_stacks`).
    :return: Final status by stack name.
    :raises DeployError: When a Worker or stack name is unknown, or AWS rejects a request.

    .. code-block:: python

        statuses = deploy("examples", workers=["sosw_tutorial_pull_tweeter_hashtags"])
        assert all(status.endswith("_COMPLETE") for status in statuses.values())
    """
    available = discover_stacks(examples_dir, workers, worker_dirs)
    if stacks is None:
        stacks = [s.name for s in available if s.tier != "workers" or s.function in workers]
    executor = Executor(session=session, log=log, pip=pip, poll_delay=poll_delay, timeout=timeout)
    return executor.execute(plan_deploy(available, executor.existing_stacks(), stacks))


def cleanup(
    examples_dir: PathLike,
    session: Optional[boto3.Session] = None,
    log: Log = print,
    poll_delay: float = 5,
    deadline: int = 3600,
    worker_dirs: Sequence[PathLike] = (),
) -> Dict[str, str]:
    """Delete every stack of the examples (all Workers included), in reverse dependency order, emptying the bucket
    first. Repeats rounds until no stack is left or ``deadline`` seconds have passed: a stack still imported by one
    outside the examples fails to delete until that one is gone.

    :param examples_dir: The ``examples`` directory.
    :param session: The boto3 session; the default one when ``None``.
    :param log: Receives the report lines.
    :param poll_delay: Seconds between two status checks, and between two rounds.
    :param deadline: Seconds after which to give up.
    :param worker_dirs: Worker folders outside the examples whose stacks go too.
    :return: Final status by stack name (``DELETE_COMPLETE`` for the deleted ones).

    .. code-block:: python

        statuses = cleanup("examples")
        assert set(statuses.values()) <= {"DELETE_COMPLETE"}
    """
    available = discover_stacks(examples_dir, workers=None, worker_dirs=worker_dirs)
    give_up = time.monotonic() + deadline
    executor = Executor(session=session, log=log, poll_delay=poll_delay, timeout=deadline)
    while True:
        existing = executor.existing_stacks()
        plan = plan_cleanup(available, existing)
        if not plan:
            return executor.statuses
        if time.monotonic() > give_up:
            log(f"Deadline passed; left: {', '.join(s.name for s in available if s.name in existing)}")
            return executor.statuses
        executor.execute(plan)
        if any(status != _GONE for status in executor.statuses.values()):
            time.sleep(poll_delay)


# Configs ----------------------------------------------------------------------------------------------------------


def _substitute(text: str, account: str, region: str) -> str:
    """Replace the placeholders: the account everywhere, the region only inside ARNs."""
    return _ARN_REGION.sub(lambda m: f"{m.group(1)}{region}:", text).replace(ACCOUNT_PLACEHOLDER, account)


def _load(path: Path, account: str, region: str) -> Dict[str, Any]:
    try:
        return json.loads(_substitute(path.read_text(), account, region))
    except (OSError, ValueError) as err:
        raise DeployError(f"cannot read config {path}: {err}") from err


def render_configs(
    examples_dir: PathLike,
    account: str,
    region: str,
    worker: Optional[str] = None,
    registered_labourers: Optional[Dict[str, Any]] = None,
    worker_dir: Optional[PathLike] = None,
) -> Dict[str, Dict[str, Any]]:
    """The config rows to write, by config name: one per ``essentials/.config/*.json`` (named by the file stem) and,
    with a Worker, ``<worker>_config`` from its ``config/self.json``.

    ``task_config.labourers`` of ``sosw_essential_config`` (which every Essential reads) is
    ``registered_labourers`` ← the file's ← the Worker's ``config/labourer.json``, each a recursive update of the
    previous: registering a Worker keeps the Labourers registered before, and rendering twice gives the same rows.

    :param examples_dir: The ``examples`` directory.
    :param account: AWS account id that replaces ``000000000000``.
    :param region: Region that replaces ``us-west-2`` in ARNs.
    :param worker: A Worker folder under ``workers/``.
    :param registered_labourers: ``task_config.labourers`` of the current ``sosw_essential_config`` row.
    :param worker_dir: The Worker's folder when it is not under ``workers/`` (a project of ``sosw init``).
    :return: Config value (a dict) by config name.
    :raises DeployError: When a file is missing or no JSON.
    """
    root = Path(examples_dir)
    configs = {p.stem: _load(p, account, region) for p in sorted((root / "essentials" / ".config").glob("*.json"))}
    essential = configs.setdefault(constants.ESSENTIAL_CONFIG_NAME, {})
    essential = recursive_update({"task_config": {"labourers": registered_labourers or {}}}, essential)
    if worker:
        folder = (Path(worker_dir) if worker_dir else root / "workers" / worker) / "config"
        essential = recursive_update(essential, {"task_config": _load(folder / "labourer.json", account, region)})
        configs[f"{worker}_config"] = _load(folder / "self.json", account, region)
    configs[constants.ESSENTIAL_CONFIG_NAME] = essential
    return configs


def upload_configs(
    examples_dir: PathLike,
    worker: Optional[str] = None,
    table: Optional[str] = None,
    env: Optional[str] = None,
    session: Optional[boto3.Session] = None,
    log: Log = print,
    worker_dir: Optional[PathLike] = None,
) -> Dict[str, Dict[str, Any]]:
    """Write the config rows of :func:`render_configs` to the config table, for the caller's account and region.

    Rows are ``{"env": env, "config_name": name, "config_value": <JSON text>}``. Running it twice writes the same rows.

    :param examples_dir: The ``examples`` directory.
    :param worker: A Worker folder under ``workers/`` to register as a Labourer and whose own config to write.
    :param table: The config table; else ``$SOSW_CONFIG_TABLE``, else ``config``.
    :param env: Value of the ``env`` key; else ``$SOSW_CONFIG_ENV``, else ``production``.
    :param session: The boto3 session; the default one when ``None``.
    :param log: Receives one line per row.
    :param worker_dir: The Worker's folder when it is not under ``workers/`` (a project of ``sosw init``).
    :return: Config value by config name, as written.
    :raises DeployError: When no region is configured or a file is unreadable.

    .. code-block:: python

        rows = upload_configs("examples", worker="sosw_tutorial_pull_tweeter_hashtags")
        rows["sosw_essential_config"]["task_config"]["labourers"]
    """
    session = session or boto3.Session()
    if not session.region_name:
        raise DeployError("no AWS region configured (set AWS_DEFAULT_REGION or a profile region)")
    table = table or os.environ.get(constants.ENV_CONFIG_TABLE) or constants.DEFAULT_CONFIG_TABLE
    env = env or os.environ.get(constants.ENV_CONFIG_ENV) or constants.DEFAULT_CONFIG_ENV
    account = session.client("sts").get_caller_identity()["Account"]
    dynamodb = session.client("dynamodb")

    key = {"env": {"S": env}, "config_name": {"S": constants.ESSENTIAL_CONFIG_NAME}}
    try:
        current = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    except ClientError as err:
        raise DeployError(f"cannot read the config table {table}: {_error_message(err)}") from err
    registered = json.loads(current["config_value"]["S"]).get("task_config", {}).get("labourers") if current else None

    configs = render_configs(examples_dir, account, session.region_name, worker, registered, worker_dir)
    for name, value in configs.items():
        item = {"env": {"S": env}, "config_name": {"S": name}, "config_value": {"S": json.dumps(value)}}
        dynamodb.put_item(TableName=table, Item=item)
        log(f"{table}: {env}/{name} written")
    return configs


def recycle_functions(
    functions: Sequence[str], session: Optional[boto3.Session] = None, log: Log = print, lambda_client: Any = None
) -> List[str]:
    """Make the functions start fresh containers, so that they read their config rows again.

    A Processor reads its config once per container, and Lambda offers no restart: changing an environment variable
    (:data:`RECYCLE_VARIABLE`, set to the current time) is the cheapest configuration change that retires the warm
    containers. Functions that do not exist are skipped.

    :param functions: Function names.
    :param session: The boto3 session; the default one when ``None``.
    :param log: Receives one line per recycled function.
    :param lambda_client: The Lambda client to use; one of ``session`` by default.
    :return: The functions recycled.
    :raises DeployError: When Lambda rejects the update.

    .. code-block:: python

        recycle_functions(["sosw_orchestrator", "sosw_scavenger"])
    """
    lambda_client = lambda_client or (session or boto3.Session()).client("lambda")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    recycled = []
    for name in functions:
        try:
            current = lambda_client.get_function_configuration(FunctionName=name)
            variables = {**current.get("Environment", {}).get("Variables", {}), RECYCLE_VARIABLE: stamp}
            lambda_client.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
        except ClientError as err:
            if _error_code(err) == "ResourceNotFoundException":
                continue
            raise DeployError(f"cannot recycle function {name}: {_error_message(err)}") from err
        recycled.append(name)
        log(f"{name}: recycled, new containers read the config again")
    return recycled
