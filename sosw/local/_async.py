"""
The asynchronous invoker: Event invocations wait in a queue, start as their function gets a free slot, are retried
after a failure as far as the function's EventInvokeConfig allows, and are dropped once older than its
``MaximumEventAgeInSeconds``. Time comes from an injectable clock, so that tests can move it.
"""

import logging
import threading
import time
from typing import Any, Callable, List, Optional, Sequence, Set

from sosw.local._log import InvocationLog
from sosw.local._pool import Outcome
from sosw.local._registry import Function, FunctionRegistry

logger = logging.getLogger(__name__)

#: Runs one attempt of an Event invocation: ``(function, request_id, payload, invoked_arn, attempt) -> Outcome``.
RunAttempt = Callable[[Function, str, Any, str, int], Outcome]


class _QueuedEvent:
    """An Event invocation waiting for a free slot, or for its retry delay to pass."""

    def __init__(self, function: str, request_id: str, payload: Any, invoked_arn: str, accepted_at: float):
        self.function = function
        self.request_id = request_id
        self.payload = payload
        self.invoked_arn = invoked_arn
        self.accepted_at = accepted_at
        self.attempt = 1
        self.ready_at = accepted_at  # not to run before this time of the clock


class AsyncInvoker:
    """Runs accepted Event invocations in the background, each attempt in a thread of its own.

    :param registry: Where a queued event finds its function (the registration current when it starts) and its
        EventInvokeConfig.
    :param run_attempt: Runs one attempt; the invoker holds the function's slot meanwhile.
    :param log: Receives the ``retried`` and ``given_up`` counts.
    :param retry_delays: Seconds before the first and the second retry.
    :param clock: Seconds of a monotonic clock; ``time.monotonic`` by default. A test that moves a clock of its own
        calls :meth:`wake` after each move.
    """

    def __init__(self, registry: FunctionRegistry, run_attempt: RunAttempt, log: InvocationLog,
                 retry_delays: Sequence[float], clock: Callable[[], float] = time.monotonic):
        self._registry = registry
        self._run_attempt = run_attempt
        self._log = log
        self._retry_delays = tuple(retry_delays)
        self._clock = clock
        self._cond = threading.Condition()  # guards everything below
        self._queue: List[_QueuedEvent] = []
        self._pending = 0  # accepted invocations not finished, given up or dropped
        self._threads: Set[threading.Thread] = set()  # running attempts
        self._stopping = False
        self._dispatcher = threading.Thread(target=self._dispatch, name="lambda-dispatcher", daemon=True)

    def start(self) -> None:
        """Start dispatching."""
        self._dispatcher.start()

    def enqueue(self, function: Function, request_id: str, payload: Any, invoked_arn: str) -> None:
        """Accept an Event invocation of ``function``."""
        with self._cond:
            self._queue.append(_QueuedEvent(function.name, request_id, payload, invoked_arn, self._clock()))
            self._pending += 1
            self._cond.notify_all()

    def wake(self) -> None:
        """Look at the queue again: a slot freed up, or the clock moved."""
        with self._cond:
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no Event invocation is queued, running or waiting to retry; whether that happened in time."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def stop(self) -> List[threading.Thread]:
        """Drop the queued invocations and stop dispatching.

        :returns: The threads to wait for: the dispatcher and the running attempts.
        """
        with self._cond:
            self._stopping = True
            self._pending -= len(self._queue)
            self._queue.clear()
            self._cond.notify_all()
            return [self._dispatcher, *self._threads]

    def _dispatch(self) -> None:
        """Start queued invocations whose retry delay passed, as their functions get free slots; drop old ones."""
        with self._cond:
            while not self._stopping:
                now = self._clock()
                wake_at: Optional[float] = None
                for job in list(self._queue):
                    function = self._registry.get(job.function)
                    assert function is not None  # queued after its lookup, and no name is ever unregistered
                    expires_at = job.accepted_at + self._registry.event_config(job.function).maximum_event_age
                    if now > expires_at:
                        self._queue.remove(job)
                        self._give_up(job, f"older than its MaximumEventAgeInSeconds after {job.attempt - 1} attempts")
                        continue
                    if job.ready_at > now:
                        due = job.ready_at
                    elif function.pool.try_take_slot(function.spec.max_containers):
                        self._queue.remove(job)
                        self._start(function, job)
                        continue
                    else:
                        due = expires_at  # waits for a slot, and is dropped if none frees up before then
                    wake_at = due if wake_at is None else min(wake_at, due)
                self._cond.wait(None if wake_at is None else max(0.0, wake_at - now))

    def _start(self, function: Function, job: _QueuedEvent) -> None:
        thread = threading.Thread(
            target=self._run, args=(function, job), name=f"lambda-event:{job.request_id}", daemon=True
        )
        self._threads.add(thread)
        thread.start()

    def _run(self, function: Function, job: _QueuedEvent) -> None:
        outcome: Optional[Outcome] = None
        try:
            outcome = self._run_attempt(function, job.request_id, job.payload, job.invoked_arn, job.attempt)
        finally:
            function.pool.release_slot()
            with self._cond:
                self._threads.discard(threading.current_thread())
                self._after_attempt(job, outcome)
                self._cond.notify_all()

    def _after_attempt(self, job: _QueuedEvent, outcome: Optional[Outcome]) -> None:
        """Retry a failed attempt if the EventInvokeConfig allows it, else count the invocation done. Holds the lock."""
        if (outcome is not None and outcome.status == "succeeded") or self._stopping:
            self._pending -= 1
            return
        config = self._registry.event_config(job.function)
        reason = outcome.error if outcome else "internal error"
        if job.attempt > config.maximum_retry_attempts:
            self._give_up(job, f"{job.attempt} attempts failed, the last with {reason}")
            return
        ready_at = self._clock() + self._retry_delays[job.attempt - 1]
        if ready_at > job.accepted_at + config.maximum_event_age:
            self._give_up(job, f"{job.attempt} attempts failed, the last with {reason}, and a retry would come "
                               f"after its MaximumEventAgeInSeconds")
            return
        job.ready_at = ready_at
        job.attempt += 1
        self._queue.append(job)
        self._log.count(job.function, "retried")

    def _give_up(self, job: _QueuedEvent, why: str) -> None:
        """Drop an invocation for good. Holds the lock."""
        self._pending -= 1
        self._log.count(job.function, "given_up")
        logger.warning("Gave up on Event invocation %s of %s: %s", job.request_id, job.function, why)
