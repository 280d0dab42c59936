"""
The Worker with the real Essentials on sosw's embedded runtime (``pip install 'sosw[local]'``): deploy the stacks and
this Worker's template, upload the configs, give ``config/task.json`` to the Scheduler and tick the Orchestrator and
the Scavenger until every task is closed. What ``sosw local up`` + ``sosw deploy --worker`` do, in one process.
"""

import json
import time
from pathlib import Path

from sosw.cli import collect_status, status_task_manager
from sosw.deployer import default_examples_dir
from sosw.local.runtime import LocalRuntime

HERE = Path(__file__).resolve().parents[1]
NAME = HERE.name


def test_the_job_of_task_json_closes_every_task():
    job = json.loads((HERE / "config" / "task.json").read_text())
    with LocalRuntime(default_examples_dir(), worker_dirs=[HERE], tick_period=0.5) as runtime:
        statuses = runtime.deploy(workers=[NAME], log=lambda line: None)
        assert all(s.endswith("_COMPLETE") and "ROLLBACK" not in s for s in statuses.values()), statuses
        runtime.upload_configs(NAME, log=lambda line: None)
        assert runtime.invoke("sosw_scheduler", job)["tasks_created"] == len(job["job"]["words"])

        task_manager = status_task_manager()
        runtime.start_ticker()
        deadline = time.monotonic() + 60
        while collect_status(task_manager)[NAME]["closed"] < len(job["job"]["words"]):
            assert time.monotonic() < deadline, collect_status(task_manager)
            time.sleep(0.5)
        assert collect_status(task_manager)[NAME]["dead"] == 0
