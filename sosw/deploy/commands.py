"""
The two entry points that plan and execute: :func:`deploy` and :func:`cleanup`. What ``examples/deploy.py``,
``examples/cleanup.py``, ``sosw deploy`` and ``sosw cleanup`` run.
"""

import time
from typing import Collection, Dict, Optional, Sequence

import boto3

from sosw import constants
from sosw.deploy.executor import Executor
from sosw.deploy.plan import DeleteTables, plan_cleanup, plan_deploy
from sosw.deploy.stacks import discover_stacks
from sosw.deploy.types import Log, PathLike

__all__ = ["cleanup", "deploy"]

_GONE = "DELETE_COMPLETE"


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
        :func:`~sosw.deploy.package.build_package`).
    :param log: Receives the report lines.
    :param poll_delay: Seconds between two status checks.
    :param timeout: Seconds to wait for one stack operation.
    :param worker_dirs: Worker folders outside the examples (see :func:`~sosw.deploy.stacks.discover_stacks`).
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
    delete_data: bool = False,
) -> Dict[str, str]:
    """Delete every stack of the examples (all Workers included), in reverse dependency order, emptying the bucket
    first. Repeats rounds until no stack is left or ``deadline`` seconds have passed: a stack still imported by one
    outside the examples fails to delete until that one is gone. The tables are retained by their stack
    (``DeletionPolicy: Retain``): with ``delete_data`` they are deleted too, once every stack is gone (CloudFormation
    cannot create a table whose name exists, so a redeploy into the same account needs it).

    :param examples_dir: The ``examples`` directory.
    :param session: The boto3 session; the default one when ``None``.
    :param log: Receives the report lines.
    :param poll_delay: Seconds between two status checks, and between two rounds.
    :param deadline: Seconds after which to give up.
    :param worker_dirs: Worker folders outside the examples whose stacks go too.
    :param delete_data: Also delete sosw's tables (tasks, closed, retry, meta, config), with their data.
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
            if delete_data and all(status == _GONE for status in executor.statuses.values()):
                executor.execute([DeleteTables(tuple(constants.TABLE_SCHEMAS))])
            return executor.statuses
        if time.monotonic() > give_up:
            log(f"Deadline passed; left: {', '.join(s.name for s in available if s.name in existing)}")
            return executor.statuses
        executor.execute(plan)
        if any(status != _GONE for status in executor.statuses.values()):
            time.sleep(poll_delay)
