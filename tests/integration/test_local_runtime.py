"""
The embedded runtime end to end: the same path as ``make demo`` (deploy, configs, Scheduler, ticks), and a Worker
that overruns its timeout: killed by the local Lambda service, retried twice by it like Lambda does, then expired
and retried by the Scavenger until it completes.
"""

import json
import logging
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sosw import constants
from sosw.app import get_lambda_handler
from sosw.cli import TUTORIAL_WORKER, main, run_demo
from sosw.local.lambda_service import LocalLambdaService
from sosw.local.runtime import LocalRuntime
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
    monkeypatch.setenv("SLOW_WORKER_SLOW_STARTS", "1")
    task_config = {
        "labourers": {"slow_worker": {"max_simultaneous_invocations": 1, "duration": 1, "cooldown": 1}},
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
        # Lambda's two async retries of the timed-out attempt are refused by the Worker's start guard: the user's
        # code ran once (one start counted), and the retries end at once instead of timing out again.
        assert service.stats["slow_worker"]["timed_out"] == 1
        assert service.stats["slow_worker"]["given_up"] == 0
        assert (tmp_path / "starts").read_text() == "1"
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
    assert closed[0]["result_starts"] == 2  # attempt 1 timed out, attempt 2 did the work
    assert scan_all(constants.TASKS_TABLE) == [] and scan_all(constants.RETRY_TASKS_TABLE) == []
    actions = [e["action"] for e in sorted(scan_all(constants.META_TABLE), key=lambda e: e["created_at"])]
    assert actions == ["created", "invoked", "moved_to_retry", "retried", "invoked", "completed", "archived"]


def test_config_upload_reaches_a_running_scheduler(capsys):
    """`sosw config upload WORKER` against a running runtime: the next invocation sees the new Labourer."""
    job_file = ROOT / "examples" / "workers" / TUTORIAL_WORKER / "config" / "task.json"
    with LocalRuntime(ROOT / "examples", tick_period=60) as runtime:
        runtime.deploy(workers=[TUTORIAL_WORKER], log=lambda line: None)
        runtime.upload_configs(log=lambda line: None)  # the Essentials only: the Worker is no Labourer yet
        assert main(["schedule", TUTORIAL_WORKER, str(job_file)]) == 1  # the Scheduler is warm now
        assert "is not a configured Labourer" in capsys.readouterr().err

        assert main(["config", "upload", TUTORIAL_WORKER]) == 0
        assert "sosw_scheduler: recycled" in capsys.readouterr().out
        assert main(["--json", "schedule", TUTORIAL_WORKER, str(job_file)]) == 0
        assert json.loads(capsys.readouterr().out)["tasks_created"] == 36


def test_before_anything_is_deployed_the_ticker_waits_quietly_and_nothing_is_left_behind(caplog):
    with LocalRuntime(ROOT / "examples", tick_period=0.1) as runtime:
        work_dir = runtime.work_dir
        (runtime.log_dir / "some_function.log").write_text("a log line\n")
        runtime.start_ticker()
        time.sleep(1)
        assert runtime.ticks == 0 and runtime.tick_errors == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert work_dir is not None and not work_dir.exists()


def local_up(*options: str) -> "tuple[subprocess.Popen, dict]":
    """`sosw local up` in a process of its own, and the JSON line it prints first."""
    process = subprocess.Popen([sys.executable, "-m", "sosw", "local", "up", "--tick", "0", "--json", *options],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line, process.stderr.read()
    return process, json.loads(line)


def answers(endpoint: str) -> bool:
    try:
        urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).read()
        return True
    except OSError:
        return False


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_sigterm_stops_local_up_with_its_moto_server_and_files():
    process, started = local_up()
    endpoint, log_dir = started["environment"]["AWS_ENDPOINT_URL"], Path(started["log_dir"])
    assert answers(endpoint) and log_dir.is_dir()

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 128 + signal.SIGTERM
    assert not answers(endpoint)
    assert not log_dir.parent.exists()  # the runtime's temporary folder


def test_the_moto_server_of_a_killed_local_up_exits_too():
    process, started = local_up()
    endpoint = started["environment"]["AWS_ENDPOINT_URL"]
    process.kill()  # no chance to clean up: the server notices its parent is gone
    process.wait(timeout=10)
    assert wait_until(lambda: not answers(endpoint), 10)


def test_local_up_on_a_port_another_runtime_holds_fails(aws, capsys):
    port = aws.endpoint.rsplit(":", 1)[1]
    assert main(["local", "up", "--port", port]) == 1
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is taken" in err and "Traceback" not in err
    assert answers(aws.endpoint)  # the other runtime is left alone
