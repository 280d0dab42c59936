"""
Execution: the actions of a plan performed against AWS (or a local moto server), with one report line per stack.

Each :class:`~sosw.deploy.plan.Action` class has one handler; an action the executor has no handler for fails with a
:class:`~sosw.deploy.exceptions.DeployError` that names it, before anything else of its step runs.
"""

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import boto3
from botocore.exceptions import ClientError, WaiterError

from sosw.deploy.constants import BUCKET_OUTPUT, BUCKET_STACK, CAPABILITIES, PACKAGES_PREFIX
from sosw.deploy.exceptions import DeployError, error_code, error_message
from sosw.deploy.package import build_package, code_sha256
from sosw.deploy.plan import (
    Action,
    BuildPackage,
    DeleteStacks,
    DeleteTables,
    DeployStacks,
    EmptyBucket,
    SyncFunctionCode,
    UploadPackage,
)
from sosw.deploy.stacks import Stack
from sosw.deploy.types import Log

__all__ = ["Executor", "first_failure"]

logger = logging.getLogger(__name__)

_NO_UPDATES = "No updates are to be performed"
_GONE = "DELETE_COMPLETE"
_OK = ("CREATE_COMPLETE", "UPDATE_COMPLETE", _GONE)
#: A stack whose creation failed can only be deleted; deploy replaces it.
_DEAD_ON_ARRIVAL = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED")
_OPERATION_STARTS = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS")

#: What a handler answers: False stops the plan (its stacks did not all succeed); None or True goes on.
_Handler = Callable[[Any], Optional[bool]]


def first_failure(events: Sequence[Mapping[str, Any]], stack_name: str) -> str:
    """Why the first resource that failed in the stack's last operation failed: the cause, where the later failures
    are mostly "Resource creation cancelled".

    :param events: The stack's events, newest first, as DescribeStackEvents lists them.
    :param stack_name: The stack, whose own events mark where its last operation started.
    :return: ``"<LogicalResourceId>: <reason>"``, or ``""`` when nothing failed.

    .. code-block:: python

        events = cloudformation.describe_stack_events(StackName="sosw-scheduler")["StackEvents"]
        print(first_failure(events, "sosw-scheduler") or "nothing failed")
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
    :param pip: Build packages with ``pip install -r requirements.txt`` (see
        :func:`~sosw.deploy.package.build_package`).
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
    poll_delay: float = 5
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
            # A plain callable: the service name is only known at run time, which the stubs' overloads cannot check.
            factory: Callable[..., Any] = (self.session or boto3.Session()).client
            self.clients[service] = factory(service)
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

        :param plan: The actions (see :func:`~sosw.deploy.plan.plan_deploy`, :func:`~sosw.deploy.plan.plan_cleanup`).
        :return: The final status of every stack the plan touched.
        :raises DeployError: A step failed, or the plan holds an action this executor has no handler for.
        """
        for action in plan:
            if self._handler(action)(action) is False:
                self.log("Stopping: the stacks above did not all succeed.")
                break
        return self.statuses

    def _handler(self, action: Action) -> _Handler:
        handlers: Dict[type, _Handler] = {
            BuildPackage: self._build_package,
            UploadPackage: self._upload_package,
            DeployStacks: self._deploy_stacks,
            SyncFunctionCode: self._sync_function_code,
            EmptyBucket: self._empty_bucket,
            DeleteTables: self._delete_tables,
            DeleteStacks: self._delete_stacks,
        }
        return handlers.get(type(action), self._unknown_action)

    @staticmethod
    def _unknown_action(action: Any) -> None:
        raise DeployError(f"the executor has no handler for the action {type(action).__name__}; a plan holds the "
                          f"actions of sosw.deploy.plan, not {action!r}")

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
            raise DeployError(error_message(err), name) from err

    def _status(self, name: str) -> Optional[str]:
        """Current status, or ``None`` when the stack does not exist."""
        try:
            return self.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        except ClientError as err:
            if error_code(err) == "ValidationError" and "does not exist" in error_message(err):
                return None
            raise DeployError(error_message(err), name) from err

    def _failure_reason(self, name: str) -> str:
        try:
            events = self.client("cloudformation").describe_stack_events(StackName=name)["StackEvents"]
        except ClientError:
            return ""
        return first_failure(events, name)

    def _waiter_config(self) -> Dict[str, Any]:
        return {"Delay": self.poll_delay, "MaxAttempts": max(1, int(self.timeout // max(1, self.poll_delay)))}

    def _wait(self, waiter_name: str, name: str) -> str:
        try:
            waiter = self.client("cloudformation").get_waiter(waiter_name)
            waiter.wait(StackName=name, WaiterConfig=self._waiter_config())
        except WaiterError as err:
            logger.debug("Waiter %s of %s: %s", waiter_name, name, err)
        return self._status(name) or _GONE

    def _report(self, name: str, status: str, note: str = "") -> bool:
        self.statuses[name] = status
        reason = "" if status in _OK else self._failure_reason(name)
        self.log(f"{name}: {status}{note}{f' ({reason})' if reason else ''}")
        return status in _OK

    # One handler per Action class ----------------------------------------------------------------------------------

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
            if _NO_UPDATES in error_message(err):
                return None
            raise DeployError(error_message(err), stack.name) from err

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
        try:
            lambda_client.get_waiter("function_updated_v2").wait(FunctionName=action.function,
                                                                 WaiterConfig=self._waiter_config())
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
            if error_code(err) != "NoSuchBucket":
                raise DeployError(error_message(err), BUCKET_STACK) from err
        self.log(f"{bucket}: {deleted} objects deleted")

    def _delete_tables(self, action: DeleteTables) -> None:
        dynamodb = self.client("dynamodb")
        for name in action.names:
            try:
                dynamodb.delete_table(TableName=name)
            except dynamodb.exceptions.ResourceNotFoundException:
                continue
            except ClientError as err:
                raise DeployError(error_message(err), name) from err
            dynamodb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": self.poll_delay})
            self.log(f"{name}: table deleted")

    def _delete_stacks(self, action: DeleteStacks) -> bool:
        for name in action.names:
            try:
                self.client("cloudformation").delete_stack(StackName=name)
            except ClientError as err:
                raise DeployError(error_message(err), name) from err
        ok = True
        for name in action.names:
            ok &= self._report(name, self._wait("stack_delete_complete", name))
        return ok
