"""
Run moto's server with two fixes to its DynamoDB, so that it behaves like DynamoDB under concurrency and at size:

- Atomicity: a TransactWriteItems that fails restores a snapshot of the tables taken when it started, wiping out
  what other requests wrote meanwhile (two Orchestrators at once lost tasks that way). DynamoDB requests are
  served one at a time here, so each request is atomic, as it is on DynamoDB; Essentials still interleave
  between requests.
- Fidelity: CloudFormation's UpdateStack with the template and parameters the stack already has fails with
  "No updates are to be performed.", as on AWS (moto reports a successful update instead).
- Quiet: no line per request on stderr (MotoServer keeps stderr to report why a start failed).
- Orphans: with ``--parent-pid PID`` the server exits when that process is gone, however it ended (SIGKILL
  included), instead of running on unowned.
- Speed: TransactWriteItems deep-copies a table once per *action* as its snapshot, which makes a 100-action
  transaction on a table of a few thousand items take seconds. The copies are all taken before anything changes,
  so copying each table once per transaction gives identical results.

    python -m sosw.local._moto_main -H 127.0.0.1 -p 5000 [--parent-pid PID]
"""

import copy
import functools
import logging
import os
import sys
import threading
import time
from typing import List

from moto.cloudformation import models as cloudformation_models
from moto.cloudformation.exceptions import ValidationError
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.responses import DynamoHandler
from moto.server import main as moto_main

_local = threading.local()
_DYNAMODB_LOCK = threading.RLock()


class _CopyOncePerTransaction:
    """Stands for the ``copy`` module inside moto's DynamoDB models: within a transaction, a table already copied
    is not copied again; elsewhere it is plain ``copy``."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(obj, memo=None):
        cache = getattr(_local, "cache", None)
        if cache is None or not isinstance(obj, dynamodb_models.Table):
            return copy.deepcopy(obj, memo)
        if id(obj) not in cache:
            cache[id(obj)] = copy.deepcopy(obj, memo)
        return cache[id(obj)]


def _patch() -> None:
    original = dynamodb_models.DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self, transact_items):
        _local.cache = {}
        try:
            return original(self, transact_items)
        finally:
            _local.cache = None

    dynamodb_models.copy = _CopyOncePerTransaction()
    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items

    call_action = DynamoHandler.call_action

    @functools.wraps(call_action)
    def serialized_call_action(self):
        with _DYNAMODB_LOCK:
            return call_action(self)

    DynamoHandler.call_action = serialized_call_action

    update_stack = cloudformation_models.CloudFormationBackend.update_stack

    @functools.wraps(update_stack)
    def update_stack_with_changes(self, name, template, role_arn, parameters, tags):
        stack = self.get_stack(name)
        resolved = self._resolve_update_parameters(instance=stack, incoming_params=parameters)
        if template == stack.template and resolved == stack.parameters and tags in (None, getattr(stack, "tags", None)):
            raise ValidationError(message="No updates are to be performed.")
        return update_stack(self, name, template, role_arn, parameters, tags)

    cloudformation_models.CloudFormationBackend.update_stack = update_stack_with_changes


def _exit_with_parent(pid: int, period: float = 1.0) -> None:
    """Exit once ``pid`` is no longer this process's parent: it died, and this process was handed to another."""

    def watch() -> None:
        while os.getppid() == pid:
            time.sleep(period)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _take_parent_pid(argv: List[str]) -> List[str]:
    if "--parent-pid" not in argv:
        return argv
    at = argv.index("--parent-pid")
    _exit_with_parent(int(argv[at + 1]))
    return argv[:at] + argv[at + 2:]


if __name__ == "__main__":
    arguments = _take_parent_pid(sys.argv[1:])
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _patch()
    sys.exit(moto_main(arguments))
