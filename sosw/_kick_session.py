"""
The kicked Orchestrator's dispatch session: for one Labourer, start queued tasks as slots free, until its queue is
empty or its time budget is spent.

A session holds the Labourer's dispatch lease (the item that ``TaskManager.invoke_tasks`` takes for each dispatch,
see ``_greenfield.py``) from start to end: taken with one conditional UpdateItem, so a kick that finds it held ends at
once (any number of kicks give one session per Labourer), and every other Orchestrator leaves the Labourer to the
session while it lasts. The limit holds as for any dispatch: only the lease holder counts and marks. Then it loops:
count the running tasks (one Query); if the last dispatch's slots are free again, read that many queued tasks (one
Query) and invoke them (``TaskManager.invoke_tasks`` with ``room``: no lease nor count of its own); else wait. Tasks
dispatched together end about together: a *wave*. The session learns how long a wave lasts (from the first wave,
the low end: its first free slot) and times the first count after a dispatch just before the wave's expected end,
then counts every 1/60 of a wave until it is over; a first count that finds the wave over already makes the next
one earlier (faster after several in a row). Once a wave runs half as long again as waves do, the slots that are
free are dispatched without waiting for its stragglers. So a wave costs a few counts, whatever its size, and each
dispatch starts a whole wave.

A session that spent its budget with tasks still queued hands over to a fresh one by kicking the Orchestrator again
(its function name from ``sosw_orchestrator_lambda``); one that dispatched nothing during its budget does not (its
Labourer's tasks run long: the WorkerAssistant's kicks and the minute schedule take over).

.. code-block:: python

    session = KickSession(orchestrator, labourer, budget=40.0)
    session.run()  # tasks invoked
"""

import logging
import time
import uuid
from typing import Any, Callable, Optional

from boto3.dynamodb.conditions import Attr

from sosw.exceptions import ConditionCheckFailed, TransactionCancelled
from sosw.labourer import Labourer
from sosw.managers._greenfield import LEASE_EXPIRES_AT, LEASE_OWNER, LEASE_PREFIX

logger = logging.getLogger(__name__)

__all__ = ["KickSession"]
#: Shortest and longest wait between two counts of the running tasks, seconds.
MIN_WAIT, MAX_WAIT = 0.02, 5.0


class KickSession:
    """One dispatch session of one Labourer.

    :param orchestrator: The Orchestrator (its ``task_client``, ``stats`` and capacity rules).
    :param labourer: The Labourer, registered for this run.
    :param budget: Seconds the session may last.
    :param clock: Monotonic seconds.
    :param sleep: Waits.
    """

    def __init__(self, orchestrator: Any, labourer: Labourer, budget: float,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.orchestrator = orchestrator
        self.task_client = orchestrator.task_client
        self.labourer = labourer
        self.budget = budget
        self._clock = clock
        self._sleep = sleep
        self._owner = uuid.uuid4().hex
        self._key = {self.task_client.fields.task_id: f"{LEASE_PREFIX}{labourer.id}"}
        #: Seconds from a dispatch until its tasks' slots are free again (the wave is over), learnt as the session
        #: goes.
        self.free_after: Optional[float] = None
        self._early_streak = 0  # waves in a row found over at the first count
        #: Whether tasks were still queued when the session ended.
        self.queue_left = False
        #: Epoch seconds the lease is ours until, and its length; None before the claim.
        self._lease_until: Optional[int] = None
        self._lease_seconds = 0

    def run(self) -> int:
        """Claim the session and dispatch until the queue is empty or the budget spent.

        :return: Tasks invoked; 0 when another session of the Labourer is live.
        """
        stats = self.orchestrator.stats
        if not self._claim():
            stats["kick_sessions_busy"] += 1
            return 0
        stats["kick_sessions"] += 1
        invoked = 0
        try:
            invoked = self._dispatch()
        finally:
            self._release()
        stats["kick_session_invoked"] += invoked
        return invoked

    def _dispatch(self) -> int:
        started = self._clock()
        deadline = started + self.budget
        capacity = self.orchestrator.capacity(self.labourer)
        invoked, dispatched_at, last_short, first_free = 0, started, started, None
        wave = 0  # tasks of the last dispatch: their slots free together, as they started together
        counts = 0  # counts since the last dispatch
        while capacity > 0 and self._clock() < deadline:
            running = int(self.task_client.get_count_of_running_tasks_for_labourer(self.labourer))
            self.orchestrator.stats["kick_session_counts"] += 1
            counts += 1
            now = self._clock()
            room = capacity - running
            if room > 0 and first_free is None:
                first_free = now
            # Dispatch once the last wave is over (its slots are free again), so that each dispatch starts many tasks
            # for its query and transaction; or, with some room, once the wave runs half as long again as waves do
            # (the rest of it straggles).
            late = now - dispatched_at >= (1.5 * self.free_after if self.free_after is not None else 2.0)
            if room > 0 and (room >= wave or late):
                if not self._keep_lease():
                    return invoked
                if invoked and (room >= wave or self.free_after is None):  # a late dispatch teaches the low end
                    self._learn(counts, (last_short if last_short > dispatched_at else dispatched_at), now,
                                dispatched_at, first_free)
                tasks = self.task_client.get_next_for_labourer(self.labourer, cnt=room + 1)
                if not tasks:
                    return invoked
                lost_before = self.task_client.stats.get("guard_failures", 0)
                done = self.task_client.invoke_tasks(self.labourer, tasks[:room], room=room, lease_owner=self._owner)
                invoked += len(done)
                if self.task_client.stats.get("guard_failures", 0) > lost_before:
                    return invoked  # the lease was taken over: its new holder dispatches the Labourer
                self.task_client.ecology_client.add_running_tasks_for_labourer(self.labourer, count=len(done))
                dispatched_at, counts, wave, first_free = self._clock(), 0, len(done), None
                if len(tasks) <= room:
                    return invoked  # the queue is empty
                self.queue_left = True
            else:
                last_short = now
            wait = self._next_wait(counts, self._clock() - dispatched_at)
            if self._clock() + wait >= deadline:
                return invoked
            self._sleep(wait)
        return invoked

    def _learn(self, counts: int, last_short: float, now: float, dispatched_at: float,
               first_free: Optional[float]) -> None:
        """Learn how long a wave lasts from the count that found it over. Found over at the first count (the one
        timed at the wave's expected end): the wave may be shorter, so the next first count comes a little earlier;
        found over later: it ended between the last count that found it running and this one."""
        if self.free_after is None:
            # The first wave ran on cold containers, which spread its end, and was counted coarsely: take the first
            # count that found a slot free, the low end. A first count too early costs a few counts; one too late, a
            # wave's worth of time.
            self.free_after = (first_free if first_free is not None else now) - dispatched_at
        elif counts == 1:
            # Several waves in a row found over at once: the estimate is well above the truth (it was learnt on a
            # slow wave, e.g. of cold containers), so it comes down faster.
            self._early_streak += 1
            self.free_after *= 0.9 if self._early_streak == 1 else 0.8
        else:
            self._early_streak = 0
            self.free_after = 0.5 * (self.free_after + (last_short + now) / 2 - dispatched_at)

    def _next_wait(self, counts: int, since_dispatch: float) -> float:
        """The wait before the next count: the first after a dispatch lasts until just before the wave is expected
        to be over; the next ones are short (1/60 of a wave), and grow once the wave runs past twice what was learnt
        (tasks that run longer than before). Nothing learnt yet: often for two seconds, then less and less often."""
        if self.free_after is None:
            wait = 0.1 if since_dispatch < 2 else since_dispatch / 4
        elif counts == 0:
            wait = 0.95 * self.free_after - since_dispatch
        elif since_dispatch < 2 * self.free_after:
            wait = max(MIN_WAIT, self.free_after / 60)
        else:
            wait = since_dispatch / 4
        return min(max(wait, MIN_WAIT), MAX_WAIT)

    def _claim(self) -> bool:
        """Take the Labourer's dispatch lease (the item ``TaskManager.invoke_tasks`` takes for each dispatch) for
        the session: one conditional UpdateItem."""
        now = int(time.time())
        seconds = min(int(self.budget) + 5, int(self.task_client.settings.dispatch_lease_seconds))
        try:
            self.task_client.dynamo_db_client.update(
                self._key, attributes_to_update={LEASE_OWNER: self._owner, LEASE_EXPIRES_AT: now + seconds},
                table_name=self.task_client.settings.tasks_table,
                condition_expression=Attr(self._field()).not_exists() | Attr(LEASE_EXPIRES_AT).lt(now))
        except ConditionCheckFailed:
            return False
        self._lease_until, self._lease_seconds = now + seconds, seconds
        return True

    def _keep_lease(self) -> bool:
        """Before a dispatch: extend the lease if a third of it or less is left (a session may outlast
        ``dispatch_lease_seconds``), with one conditional UpdateItem. False: it was taken over; the session ends.
        Each dispatch also checks it in its transactions (``TaskManager.invoke_tasks`` with ``lease_owner``)."""
        if self._lease_until is None:
            return True
        now = int(time.time())
        if self._lease_until - now > max(self._lease_seconds / 3, 2):
            return True
        try:
            self.task_client.dynamo_db_client.update(
                self._key, attributes_to_update={LEASE_EXPIRES_AT: now + self._lease_seconds},
                table_name=self.task_client.settings.tasks_table,
                condition_expression=Attr(LEASE_OWNER).eq(self._owner))
        except ConditionCheckFailed:
            self.orchestrator.stats["kick_session_lease_lost"] += 1
            logger.warning("the dispatch lease of %s was taken over during its kick session; the session ends",
                           self.labourer.id)
            return False
        self.orchestrator.stats["kick_session_lease_renewals"] += 1
        self._lease_until = now + self._lease_seconds
        return True

    def _release(self) -> None:
        """Give the lease back, if the session still holds it: a conditional delete (a transaction of one action,
        as ``TaskManager.invoke_tasks`` gives it back), so that no lease item stays in the tasks table."""
        client = self.task_client.dynamo_db_client
        try:
            client.transact_write(client.make_delete_transaction_item(
                self._key, table_name=self.task_client.settings.tasks_table,
                condition_expression=Attr(LEASE_OWNER).eq(self._owner)))
        except TransactionCancelled:
            logger.warning("the dispatch lease of %s expired during its kick session; another Orchestrator took it",
                           self.labourer.id)
        except Exception:  # the lease expires by itself; the dispatch is done
            self.orchestrator.stats["kick_session_release_failures"] += 1
            logger.exception("could not give the dispatch lease of %s back; it expires by itself", self.labourer.id)

    def _field(self) -> str:
        return str(self.task_client.fields.task_id)
