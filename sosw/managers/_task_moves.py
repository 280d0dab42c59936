"""
The changes of a task's life — creation, invocation, a Worker's report, archiving, retrying — each what the
greenfield rules (``_greenfield.py``) say to write, written by the task store (``_task_store.py``), and counted in
the stats. The clock and the Lambda client are the TaskManager's, passed at each call.

.. code-block:: python

    moves = TaskMoves(settings, store, stats)
    moves.archive(tasks, dead=False, now=now)  # ids of the tasks archived
"""

import logging
import uuid
from typing import Any, Callable, Dict, Iterable, List, Mapping, MutableMapping, Optional, Sequence, Tuple, Union

from botocore.exceptions import ClientError

from sosw import constants
from sosw.exceptions import ConditionCheckFailed, InvalidInput, TaskNotFound
from sosw.labourer import Labourer
from sosw.managers import _claims as claims
from sosw.managers import _greenfield as rules
from sosw.managers._invoker import invoke_worker, invoke_workers
from sosw.managers._settings import TaskSettings
from sosw.managers._task_store import TaskStore

logger = logging.getLogger(__name__)


class TaskMoves:
    """The write paths of the TaskManager.

    :param settings: The TaskManager's settings.
    :param store: The task store.
    :param stats: The TaskManager's stats, where the moves are counted.
    """

    def __init__(self, settings: TaskSettings, store: TaskStore, stats: MutableMapping[str, Any]) -> None:
        self.settings = settings
        self.fields = settings.fields
        self._store = store
        self._stats = stats
        # The end of each queue as this instance last wrote it: the index it is read from may lag behind writes.
        self._queue_ends: Dict[Any, int] = {}

    # Creating --------------------------------------------------------------------------------------------------

    def create_one(self, labourer: Labourer, strict: bool, kwargs: Dict[str, Any], now: int,
                   newest: Callable[[], int]) -> Dict[str, Any]:
        """One task at the end of the queue (or where ``kwargs`` say, without ``strict``): PutItem, then its
        event. ``newest`` gives the greenfield of the end of the queue."""
        f = self.fields
        generated = {f.task_id, f.labourer_id, f.created_at, f.greenfield, f.attempts}
        extra = {k: kwargs.pop(k) for k in list(kwargs) if k in generated}
        if strict:
            for key, value in extra.items():
                if not (key == f.labourer_id and str(value) == str(labourer.id)):
                    raise InvalidInput("is generated; pass strict=False to set it", field=key, value=value)
            extra = {}
        payload = rules.build_payload(**kwargs)
        greenfield = extra.pop(f.greenfield, None) or newest() + self.settings.greenfield_task_step
        task = rules.new_task(f, extra.pop(f.task_id, None) or uuid.uuid4().hex, str(labourer.id), now,
                              int(greenfield), payload, extra)
        self._store.write_each(rules.create_move(f, task, str(labourer.id)))
        self._stats["tasks_created"] += 1
        return task

    def create_many(self, labourer: Labourer, payloads: Iterable[Union[Dict, str]],
                    task_ids: Optional[Sequence[str]], skip_existing: bool, now: int,
                    newest: Callable[[], int]) -> List[str]:
        """Tasks at the end of the queue, by BatchWriteItem with their events; every payload checked first."""
        texts = []
        for index, payload in enumerate(payloads):
            try:
                texts.append(rules.build_payload(payload=payload))
            except InvalidInput as err:
                raise InvalidInput(err.message, field=f"payloads[{index}]") from None
        ids = list(task_ids) if task_ids is not None else [uuid.uuid4().hex for _text in texts]
        if len(ids) != len(texts):
            raise InvalidInput(f"{len(ids)} ids for {len(texts)} payloads", field="task_ids")
        labourer_id = str(labourer.id)
        existing = self._store.existing_ids(labourer_id, ids) if skip_existing and ids else set()
        todo = [(task_id, text) for task_id, text in zip(ids, texts) if task_id not in existing]
        if not todo:
            return []
        greenfields = rules.tail_greenfields(max(newest(), self._queue_ends.get(labourer.id, 0)),
                                             self.settings.greenfield_task_step, len(todo))
        self._store.batch([rules.create_move(self.fields, rules.new_task(self.fields, task_id, labourer_id, now,
                                                                         greenfield, text), labourer_id)
                           for (task_id, text), greenfield in zip(todo, greenfields)])
        self._queue_ends[labourer.id] = greenfields[-1]
        self._stats["tasks_created"] += len(todo)
        return [task_id for task_id, _text in todo]

    # Invoking --------------------------------------------------------------------------------------------------

    def mark_invoked(self, labourer: Labourer, task: Dict[str, Any], now: int, check_running: bool) -> None:
        """sosw 0.7.47's single-task mark: one conditional UpdateItem, then its event; ``task`` is updated in place.

        :raises InvalidTask: The task belongs to another Labourer.
        :raises ConditionCheckFailed: The task is not queued any more (with ``check_running``).
        """
        rules.check_owner(self.fields, task, labourer.id)
        greenfield = now + self.settings.greenfield_invocation_delta
        start = labourer.get_attr("start") if check_running else None
        self._store.write_each(rules.mark_invoked_move(self.fields, task, str(labourer.id), start, greenfield))
        task[self.fields.greenfield] = greenfield

    def invoke_many(self, labourer: Labourer, tasks: List[Dict[str, Any]], now: int, lambda_client: Any,
                    count_running: Callable[[Labourer], int], room: Optional[int] = None,
                    lease_owner: Optional[str] = None) -> List[str]:
        """Mark queued tasks invoked (transactions with their events) within the Labourer's limit, invoke the Worker
        for each, and put back the tasks whose invocation Lambda refused. ``count_running`` counts a Labourer's
        running tasks (see :meth:`mark_within_limit`). ``room``: the caller holds the Labourer's dispatch lease
        as ``lease_owner`` and counted the running tasks under it (a kicked Orchestrator's session): at most
        ``room`` are marked, with no lease nor count of their own, each transaction checking that the lease is still
        the caller's."""
        f = self.fields
        greenfield = now + self.settings.greenfield_invocation_delta
        by_id = {task[f.task_id]: task for task in tasks}
        moves = [rules.invoke_move(f, task, str(labourer.id), labourer.get_attr("start"), greenfield)
                 for task in by_id.values()]
        if room is None:
            marked = self.mark_within_limit(labourer, moves, now, count_running)
        else:
            guard = rules.lease_check(f, str(labourer.id), lease_owner) if lease_owner else None
            marked = self._store.apply(moves[:max(room, 0)], guard=guard)
        # Each payload names its attempt, for the Worker's start guard (_claims.py); a run that would start after
        # start_by could outlast the task's expiry, so it does not start.
        start_by = claims.start_by(now, labourer.cooldown)
        payloads = [rules.invocation_payload(f, by_id[task_id], claims.attempt_fields(
            f, by_id[task_id], greenfield, self.settings.tasks_table, start_by=start_by)) for task_id in marked]
        errors = invoke_workers(lambda_client, labourer, payloads, self.settings.invoke_threads)
        invoked = []
        for task_id, error in zip(marked, errors):
            if error is None:
                invoked.append(task_id)
            else:
                self.undo_invoked(labourer, by_id[task_id], by_id[task_id][f.greenfield], greenfield, error)
        self._stats["tasks_invoked"] += len(invoked)
        return invoked

    def mark_within_limit(self, labourer: Labourer, moves: List[rules.Move], now: int,
                          count_running: Callable[[Labourer], int]) -> List[str]:
        """Apply invocation moves, no more than the Labourer's ``max_simultaneous_invocations`` leaves room for.

        Dispatchers running at once would each count the same running tasks and each fill the whole limit, so the
        count and the marks are made under the Labourer's dispatch lease: a conditional UpdateItem of an item of
        the tasks table that only one holder at a time gets, and that expires after ``dispatch_lease_seconds``
        should its holder crash. A dispatcher that finds it held marks nothing (the holder dispatches the
        Labourer). Cost: the lease, a count of the running tasks and the lease's release: three calls per
        Labourer and run that has tasks to invoke.

        :return: Ids of the tasks marked.
        """
        limit, seconds = labourer.max_simultaneous_invocations, self.settings.dispatch_lease_seconds
        if limit is None or not seconds or not moves:
            return self._store.apply(moves)
        labourer_id, owner = str(labourer.id), uuid.uuid4().hex
        try:
            self._store.write(rules.lease_acquire(self.fields, labourer_id, owner, now, seconds))
        except ConditionCheckFailed:
            logger.info("%s is being dispatched by someone else (its dispatch lease is held); left to them",
                        labourer_id)
            self._stats["dispatch_lease_busy"] += 1
            return []
        try:
            running = count_running(labourer)
            room = max(int(limit) - running, 0) if isinstance(running, int) else len(moves)
            if room < len(moves):
                self._stats["invocations_held_by_limit"] += len(moves) - room
            # Each transaction checks the lease is still ours: one that outlived dispatch_lease_seconds and was
            # taken over marks nothing more, so two holders never both fill the limit.
            guard = rules.lease_check(self.fields, labourer_id, owner)
            return self._store.apply(moves[:room], guard=guard) if room else []
        finally:
            try:
                self._store.write(rules.lease_release(self.fields, labourer_id, owner))
            except ConditionCheckFailed:
                logger.warning("the dispatch lease of %s expired while held (over %d s); taken by someone else",
                               labourer_id, seconds)

    def invoke_one(self, labourer: Labourer, task: Dict[str, Any], mark: Callable[[Labourer, Dict[str, Any]], None],
                   lambda_client: Any) -> bool:
        """sosw 0.7.47's single-task path: ``mark`` (the TaskManager's ``mark_task_invoked``, which users' tests
        patch), then ``invoke``; a task no longer queued is skipped, a refused invocation undone."""
        old_greenfield = task.get(self.fields.greenfield)
        try:
            mark(labourer, task)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            logger.info("task %s is not queued any more (invoked by a concurrent Orchestrator?); skipped",
                        task[self.fields.task_id])
            self._stats["concurrent_task_invocations_skipped"] += 1
            return False
        error = invoke_worker(lambda_client, labourer, rules.invocation_payload(self.fields, task))
        if error is not None:
            self.undo_invoked(labourer, task, old_greenfield, task[self.fields.greenfield], error)
            return False
        self._stats["tasks_invoked"] += 1
        return True

    def undo_invoked(self, labourer: Labourer, task: Mapping[str, Any], old_greenfield: Any, greenfield: int,
                     error: str) -> None:
        """Put a task whose invocation failed back where it was, unless something else changed it since."""
        self._stats["invocation_failures"] += 1
        task_id = task[self.fields.task_id]
        logger.warning("invoking %s for task %s failed: %s; task put back in the queue", labourer.id, task_id, error)
        move = rules.undo_invoke_move(self.fields, task_id, str(labourer.id), old_greenfield, greenfield, error)
        if not self._store.apply([move]):
            logger.warning("task %s: invocation failed and the task changed since; left as it is", task_id)

    # Reports of Workers ----------------------------------------------------------------------------------------

    def report(self, task_id: str, outcome: str, stats: Optional[Mapping[str, Any]],
               result: Optional[Mapping[str, Any]], now: int, labourers: Sequence[Labourer]) -> str:
        """Record a Worker's report: ``outcome`` if recorded, ``'already_completed'`` or ``'unchanged'``. A failed
        task expires below the line of the longest ``duration + cooldown`` of the ``labourers`` (the configured
        ones); a completion looks for the task in the retry table of each of them (see :meth:`complete`).

        :raises TaskNotFound: The task is not in the tasks table; nothing is written.
        """
        if outcome not in ("completed", "failed"):
            raise InvalidInput(f"expected 'completed' or 'failed', got {outcome!r}", field="outcome")
        f, delta = self.fields, self.settings.greenfield_invocation_delta
        values = rules.report_values(stats, result)
        if outcome == "completed":
            return self.complete(task_id, values, now, [str(labourer.id) for labourer in labourers])
        expiry_window = max([lab.duration + lab.cooldown for lab in labourers]
                            + [constants.DEFAULT_DURATION + constants.DEFAULT_COOLDOWN])
        if self._store.apply([rules.failure_move(f, task_id, values, now,
                                                 rules.failed_greenfield(now, delta, expiry_window))]):
            return outcome
        task = self._store.get(task_id)
        if task is None:
            raise TaskNotFound(task_id, self.settings.tasks_table)
        return "already_completed" if task.get(f.completed_at) is not None else "unchanged"

    def complete(self, task_id: str, values: Dict[str, Any], now: int, labourer_ids: Sequence[str]) -> str:
        """Close the task as completed wherever it is, once: ``'completed'`` or ``'already_completed'``.

        First the common case, one conditional UpdateItem of a task that runs (or expired). If that fails, the
        task is located (one TransactGetItems over the tasks, closed and retry tables, the latter for each of
        ``labourer_ids``) and the move for where it is made, each conditional on the task being still there as
        read: a queued task leaves the queue completed, a task in the retry table moves to the closed tasks as
        completed, a task closed as dead is re-closed as completed. A move that fails because a Scavenger or an
        Orchestrator moved the task meanwhile is tried again on the task as it is then.

        :raises TaskNotFound: The task is in none of the tables; nothing is written.
        """
        f, delta = self.fields, self.settings.greenfield_invocation_delta
        values = {**values, f.completed_at: now}
        try:
            self._store.write(rules.completion_update(f, task_id, values, now))
            return "completed"
        except ConditionCheckFailed:
            pass
        for _attempt in range(self.settings.transaction_attempts):
            where, task = self._store.locate(task_id, labourer_ids)
            if task is None or (where == rules.TASKS and task.get(f.greenfield) is None):
                raise TaskNotFound(task_id, self.settings.tasks_table)
            if task.get(f.completed_at) is not None:
                return "already_completed"
            if where == rules.TASKS:
                queued = int(task[f.greenfield]) < now
                update = rules.late_completion_update(f, task, values, now + delta) if queued else \
                    rules.completion_update(f, task_id, values, now)
                try:
                    self._store.write(update)
                except ConditionCheckFailed:
                    continue
                self._stats["late_completions_of_queued_tasks" if queued else "completions_after_a_race"] += 1
                return "completed"
            dead = where == rules.CLOSED
            move = (rules.dead_completion_move if dead else rules.retry_completion_move)(f, task, values, now)
            if self._store.apply([move]):
                self._stats["completions_of_dead_tasks" if dead else "completions_from_retry_table"] += 1
                return "completed"
        logger.error("task %s: its completion lost every race with other moves (%d tries); not recorded", task_id,
                     self.settings.transaction_attempts)
        return "unchanged"

    # Archiving and retrying ------------------------------------------------------------------------------------

    def archive(self, tasks: Iterable[Mapping[str, Any]], dead: bool, now: int) -> List[str]:
        """Tasks to the closed tasks, as completed or dead; the ids of those archived."""
        archived = self._store.apply([rules.archive_move(self.fields, task, dead, now) for task in tasks])
        self._stats["tasks_archived_dead" if dead else "tasks_archived"] += len(archived)
        return archived

    def to_retry_table(self, tasks_with_delays: Iterable[Tuple[Mapping[str, Any], int]], now: int) -> List[str]:
        """Expired tasks to the retry table; the ids of those moved."""
        moved = self._store.apply([rules.retry_table_move(self.fields, task, delay, now)
                                   for task, delay in tasks_with_delays])
        self._stats["tasks_moved_to_retry"] += len(moved)
        return moved

    def requeue(self, moves: List[rules.Move]) -> List[str]:
        """Tasks from the retry table back to the queue; the ids of those moved."""
        retried = self._store.apply(moves)
        self._stats["tasks_retried"] += len(retried)
        return retried
