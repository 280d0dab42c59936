"""
A ``lambda.invoke`` that Lambda refuses (here: the Worker function does not exist, ResourceNotFoundException) burns
no attempt, strands no task, and does not stop the Orchestrator run for the other Labourers.
"""

from sosw import constants
from tests.integration.lifecycle.conftest import EchoWorker, by_id, meta_actions

TASKS = constants.TASKS_TABLE


def test_refused_invocation_puts_the_task_back_and_the_other_labourers_go_on(lifecycle):
    # The missing function comes first, so that the others run after its failure in the same run.
    env = lifecycle({"ghost": {"max_simultaneous_invocations": 5}, "alpha": {"max_simultaneous_invocations": 5},
                     "beta": {"max_simultaneous_invocations": 5}},
                    workers={"alpha": EchoWorker, "beta": EchoWorker})
    tm = env.task_manager()
    ids = {name: tm.create_tasks(tm.get_labourer(name), [{"n": i} for i in range(3)])
           for name in ("ghost", "alpha", "beta")}
    queued = {task_id: task["greenfield"] for task_id, task in by_id(TASKS).items()}
    orchestrator = env.orchestrator()

    assert orchestrator({}) == {"ghost": 0, "alpha": 3, "beta": 3}
    env.wait()

    tasks = by_id(TASKS)
    for task_id in ids["ghost"]:
        # Not burnt: no attempt counted, back at its place in the queue, the failure logged.
        assert tasks[task_id]["attempts"] == 0
        assert tasks[task_id]["greenfield"] == queued[task_id]
        assert meta_actions()[task_id] == ["created", "invoked", "invoke_failed"]
    for task_id in ids["alpha"] + ids["beta"]:
        assert tasks[task_id]["attempts"] == 1 and "completed_at" in tasks[task_id]
    assert orchestrator.get_stats()["invocation_failures"] == 3
    labourer = tm.get_labourer("ghost")
    assert tm.get_count_of_running_tasks_for_labourer(labourer) == 0
    assert tm.get_length_of_queue_for_labourer(labourer) == 3
    assert [t["task_id"] for t in tm.get_next_for_labourer(labourer, cnt=3)] == ids["ghost"]

    # Once the function exists, a later run invokes them, each once, in queue order.
    env.register_worker("ghost", EchoWorker)
    env.clock.advance(1)
    assert orchestrator({}) == {"ghost": 3, "alpha": 0, "beta": 0}
    env.wait()
    tasks = by_id(TASKS)
    assert all(tasks[i]["attempts"] == 1 and "completed_at" in tasks[i] for i in ids["ghost"])
    assert env.invoked_task_ids("ghost") == {task_id: 1 for task_id in ids["ghost"]}
    env.clock.advance(1)
    env.scavenger()({})
    assert by_id(TASKS) == {}
    assert {t["labourer_id_task_status"] for t in by_id(constants.CLOSED_TASKS_TABLE).values()} == \
        {"ghost_1", "alpha_1", "beta_1"}


def test_refused_invocation_through_invoke_task(lifecycle):
    env = lifecycle({"ghost": {"max_simultaneous_invocations": 5}})
    tm = env.task_manager()
    [task_id] = tm.create_tasks(tm.get_labourer("ghost"), [{"n": 1}])
    before = by_id(TASKS)[task_id]

    labourer = tm.register_labourers()[0]
    assert tm.invoke_task(labourer, task_id=task_id) is False

    after = by_id(TASKS)[task_id]
    assert after["attempts"] == 0 and after["greenfield"] == before["greenfield"]
    assert tm.get_next_for_labourer(labourer, only_ids=True) == [task_id]
