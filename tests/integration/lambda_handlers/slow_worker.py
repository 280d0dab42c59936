"""
A sosw Worker for tests/integration/test_local_runtime.py that overruns its timeout until it has been started
``SLOW_WORKER_SLOW_STARTS`` times (counted in the file ``SLOW_WORKER_COUNTER``), then does its work and reports.
"""

import os
import time
from pathlib import Path

from sosw import Worker
from sosw.app import LambdaGlobals, get_lambda_handler


class SlowWorker(Worker):
    def __call__(self, event):
        counter = Path(os.environ["SLOW_WORKER_COUNTER"])
        starts = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(starts + 1))
        if starts < int(os.environ["SLOW_WORKER_SLOW_STARTS"]):
            time.sleep(30)  # far past the function's timeout: the service kills this process
        self.result["starts"] = starts + 1
        return super().__call__(event)


global_vars = LambdaGlobals()
lambda_handler = get_lambda_handler(SlowWorker, global_vars)
