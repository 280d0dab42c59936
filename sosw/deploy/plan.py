"""
Planning: a deployment or a cleanup as a list of :class:`Action` objects — data, testable without AWS, which
:class:`~sosw.deploy.executor.Executor` then performs.

.. code-block:: python

    available = discover_stacks("examples")
    plan = plan_deploy(available, existing={"sosw-s3-bucket"}, selected=["sosw-scheduler"])
    assert isinstance(plan[-1], DeployStacks)
"""

from dataclasses import dataclass
from typing import Collection, Iterator, List, Optional, Sequence, Tuple

from sosw.deploy.constants import BUCKET_STACK, TIERS
from sosw.deploy.exceptions import DeployError
from sosw.deploy.stacks import Stack

__all__ = ["Action", "BuildPackage", "DeleteStacks", "DeleteTables", "DeployStacks", "EmptyBucket", "SyncFunctionCode",
           "UploadPackage", "plan_cleanup", "plan_deploy"]


@dataclass(frozen=True)
class Action:
    """One step of a plan. The subclasses carry the data; :class:`~sosw.deploy.executor.Executor` knows how to
    perform each (and refuses, with a :class:`~sosw.deploy.exceptions.DeployError`, one it does not know)."""


@dataclass(frozen=True)
class BuildPackage(Action):
    """Zip the folder of ``stack`` (see :func:`~sosw.deploy.package.build_package`)."""

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
class DeleteTables(Action):
    """Delete DynamoDB tables that their stack retained (``DeletionPolicy: Retain``): asked for explicitly only."""

    names: Tuple[str, ...]


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

    :param available: Every known stack (see :func:`~sosw.deploy.stacks.discover_stacks`).
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

    :param available: Every known stack (see :func:`~sosw.deploy.stacks.discover_stacks`).
    :param existing: Names of the stacks that exist now.
    :return: The actions, in order.
    """
    plan: List[Action] = []
    for tier, stacks in reversed(list(_by_tier([s for s in available if s.name in existing]))):
        if tier == "bucket":
            plan.append(EmptyBucket())
        plan.append(DeleteStacks(tuple(s.name for s in stacks)))
    return plan
