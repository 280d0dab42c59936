"""
The embedded runtime end to end: the same path as ``make demo`` (deploy, configs, Scheduler, ticks), and a Worker
that overruns its timeout: killed by the local Lambda service, retried twice by it like Lambda does, then expired
and retried by the Scavenger until it completes.
"""

import time
from pathlib import Path

from sosw import constants
from sosw.app import get_lambda_handler
from sosw.cli import TUTORIAL_WORKER, run_demo
from sosw.local.lambda_service import LocalLambdaService
from tests.integration.conftest import scan_all

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = Path(__file__).resolve().parent / "lambda_handlers"


def test_demo_path_closes_all_36_tutorial_tasks_as_completed_and_fills_the_results():
    lines = []
    outcome = run_demo(ROOT / "examples", tick=0.5, timeout=150, out=lines.append)

    status = outcome["status"][TUTORIAL_WORKER]
    assert status["closed"] == 36
    assert {k: v for k, v in status.items() if k != "closed"} == {
        "queued": 0, "running": 0, "expired": 0, "completed": 0, "retrying": 0, "dead": 0}
    assert outcome["scheduled"]["tasks_created"] == 36
    results = outcome["results"]
    assert len(results) == 36  # one row per (word, day)
    assert len({(r["word"]["S"], r["date"]["S"]) for r in results}) == 36
    assert all("count" in r for r in results)
    assert any("word" in line and "topic" in line for line in lines)  # the results table was shown


def test_timed_out_worker_is_killed_expires_and_is_retried_by_the_scavenger(sosw_tables, tmp_path, monkeypatch):
    from sosw import Orchestrator, Scavenger, WorkerAssistant
    from sosw.managers.task import TaskManager

    monkeypatch.setenv("SLOW_WORKER_COUNTER", str(tmp_path / "starts"))
    monkeypatch.setenv("SLOW_WORKER_SLOW_STARTS", "3")
    task_config = {
        "labourers": {"slow_worker": {"max_simultaneous_invocations": 1, "duration": 1, "cooldown": 0}},
        "read_labourer_timeout": False,
        "meta_handler_config": {"dynamo_db_config": {"table_name": constants.META_TABLE}},
    }
    essential = {"task_config": task_config}
    with LocalLambdaService(async_retry_delays=(0.1, 0.1)) as service:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", service.endpoint)
        service.register("slow_worker", "slow_worker.lambda_handler", code_dir=HANDLERS, timeout=1)
        service.register(constants.WORKER_ASSISTANT_LAMBDA,
                         get_lambda_handler(WorkerAssistant, custom_config=essential), timeout=10)
        task_manager = TaskManager(custom_config=task_config)
        [task_id] = task_manager.create_tasks(task_manager.get_labourer("slow_worker"), [{"x": 1}])
        orchestrator = Orchestrator(custom_config=essential)
        scavenger = Scavenger(custom_config={**essential, "min_retry_delay": 0})

        assert orchestrator({}) == {"slow_worker": 1}
        assert service.wait_idle(30)
        assert service.stats["slow_worker"]["timed_out"] == 3  # the first try and Lambda's two async retries
        assert service.stats["slow_worker"]["given_up"] == 1
        assert scan_all(constants.TASKS_TABLE)[0].get("completed_at") is None

        # Expired after duration + cooldown; moved to the retry table, then back to the queue when due.
        moved = retried = False
        for _ in range(40):
            result = scavenger({})
            moved = moved or result.get("tasks_moved_to_retry") == 1
            retried = retried or result.get("tasks_retried") == 1
            if retried:
                break
            time.sleep(0.25)
        assert moved and retried

        assert orchestrator({}) == {"slow_worker": 1}
        assert service.wait_idle(30)
        scavenger({})

    closed = scan_all(constants.CLOSED_TASKS_TABLE)
    assert [(c["task_id"], c["labourer_id_task_status"], c["attempts"]) for c in closed] == \
        [(task_id, "slow_worker_1", 2)]
    assert closed[0]["result_starts"] == 4
    assert scan_all(constants.TASKS_TABLE) == [] and scan_all(constants.RETRY_TASKS_TABLE) == []
    actions = [e["action"] for e in sorted(scan_all(constants.META_TABLE), key=lambda e: e["created_at"])]
    assert actions == ["created", "invoked", "moved_to_retry", "retried", "invoked", "completed", "archived"]
