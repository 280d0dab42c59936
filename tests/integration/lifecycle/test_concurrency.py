"""
Two Orchestrators, or two Scavengers, running at the same moment on the same queue (each its own instance, in its own
thread): no task is invoked twice, archived twice or moved to the retry table twice.
"""

import json
from collections import Counter

from sosw import constants
from sosw.components.sns import SEPARATOR
from tests.integration.conftest import received, subscribed_queue
from tests.integration.lifecycle.conftest import (
    EXPIRY,
    EchoWorker,
    SilentWorker,
    by_id,
    meta_actions,
    run_together,
)

TASKS, CLOSED, RETRY = constants.TASKS_TABLE, constants.CLOSED_TASKS_TABLE, constants.RETRY_TASKS_TABLE


def run_essentials_together(essentials):
    """Call every Essential at once (with an empty event), each in its own thread; their results in order."""
    return run_together([lambda essential=essential: essential({}) for essential in essentials])


def test_two_orchestrators_at_once_never_invoke_a_task_twice(lifecycle):
    env = lifecycle({"w": {"max_simultaneous_invocations": 20}}, workers={"w": EchoWorker})
    tm = env.task_manager()
    ids = tm.create_tasks(tm.get_labourer("w"), [{"n": i} for i in range(40)])
    orchestrators = [env.orchestrator(), env.orchestrator()]

    invoked_per_run = []
    for _ in range(3):
        env.clock.advance(1)
        results = run_essentials_together(orchestrators)
        invoked_per_run.append(sum(r["w"] for r in results))
        env.wait()

    counts = env.invoked_task_ids("w")
    assert sorted(counts) == sorted(ids)
    assert set(counts.values()) == {1}, {t: n for t, n in counts.items() if n > 1}
    assert sum(invoked_per_run) == 40
    tasks = by_id(TASKS)
    assert {int(t["attempts"]) for t in tasks.values()} == {1}
    assert all("completed_at" in t for t in tasks.values())
    assert all(actions.count("invoked") == 1 for actions in meta_actions().values())


def test_two_scavengers_at_once_archive_each_completed_task_once(lifecycle):
    env = lifecycle({"w": {"max_simultaneous_invocations": 30}}, workers={"w": EchoWorker})
    tm = env.task_manager()
    ids = tm.create_tasks(tm.get_labourer("w"), [{"n": i} for i in range(30)])
    env.orchestrator()({})
    env.wait()
    assert all("completed_at" in t for t in by_id(TASKS).values())

    env.clock.advance(1)
    results = run_essentials_together([env.scavenger(), env.scavenger()])

    assert sum(r.get("tasks_archived", 0) for r in results) == 30
    assert by_id(TASKS) == {}
    closed = by_id(CLOSED)
    assert sorted(closed) == sorted(ids)
    assert all(t["labourer_id_task_status"] == "w_1" for t in closed.values())
    events = meta_actions()
    assert all(events[i].count("archived") == 1 for i in ids), {i: events[i] for i in ids}


def test_two_scavengers_at_once_move_each_expired_task_once(lifecycle):
    queue = subscribed_queue(constants.DEAD_SNS_TOPIC)
    env = lifecycle({"lazy": {"max_simultaneous_invocations": 20}, "doomed": {"max_simultaneous_invocations": 10}},
                    workers={"lazy": SilentWorker, "doomed": SilentWorker}, max_attempts_doomed=1)
    tm = env.task_manager()
    lazy = tm.create_tasks(tm.get_labourer("lazy"), [{"n": i} for i in range(20)])
    doomed = tm.create_tasks(tm.get_labourer("doomed"), [{"n": i} for i in range(10)])
    assert env.orchestrator()({}) == {"lazy": 20, "doomed": 10}
    env.wait()

    env.clock.advance(EXPIRY + 1)
    results = run_essentials_together([env.scavenger(), env.scavenger()])

    assert sum(r.get("tasks_moved_to_retry", 0) for r in results) == 20
    assert sum(r.get("tasks_archived_dead", 0) for r in results) == 10
    assert by_id(TASKS) == {}
    assert sorted(by_id(RETRY)) == sorted(lazy)
    closed = by_id(CLOSED)
    assert sorted(closed) == sorted(doomed)
    assert all(t["labourer_id_task_status"] == "doomed_0" for t in closed.values())
    events = meta_actions()
    assert all(events[i] == ["created", "invoked", "moved_to_retry"] for i in lazy), {i: events[i] for i in lazy}
    assert all(events[i] == ["created", "invoked", "archived_dead"] for i in doomed), {i: events[i] for i in doomed}
    # One dead notice per dead task, whichever Scavenger closed it.
    notices = [json.loads(part) for message in received(queue) for part in message["Message"].split(SEPARATOR)]
    assert Counter(n["task_id"] for n in notices) == Counter(doomed)

    # Both due at once: each task returns to the queue once.
    env.clock.advance(3600)
    results = run_essentials_together([env.scavenger(), env.scavenger()])
    assert sum(r.get("tasks_retried", 0) for r in results) == 20
    assert by_id(RETRY) == {}
    tasks = by_id(TASKS)
    assert sorted(tasks) == sorted(lazy)
    assert all(t["attempts"] == 1 for t in tasks.values())
    assert all(meta_actions()[i].count("retried") == 1 for i in lazy)
