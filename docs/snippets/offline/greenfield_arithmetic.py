"""The numbers of the greenfield state machine for one run, computed by TaskManager without AWS."""

from unittest import mock

from sosw import constants
from sosw.managers.task import TaskManager

task_manager = TaskManager(custom_config={
    "read_labourer_timeout": False,  # else the default duration is the function's timeout, asked of Lambda
    "labourers": {
        "default_worker": {},
        "quick_worker": {"duration": 60, "cooldown": 30, "max_attempts": 5},
    },
})

NOW = 1_795_392_000  # 2026-11-23 00:00:00 UTC
with mock.patch.object(TaskManager, "now", return_value=NOW):
    default, quick = task_manager.register_labourers(health=False)  # health=False: no CloudWatch

delta = constants.GREENFIELD_INVOCATION_DELTA  # 31 557 600 s, one year
assert default.get_attr("start") == NOW  # S
assert default.get_attr("invoked") == NOW + delta  # I: what an invocation at this run writes
assert default.get_attr("expired") == NOW + delta - (900 + 300)  # E = I - (duration + cooldown)
assert quick.get_attr("expired") == NOW + delta - (60 + 30)
assert (default.get_attr("max_attempts"), quick.get_attr("max_attempts")) == (3, 5)


def state(labourer, greenfield, completed=False):
    """What TaskManager's queries consider a task with this greenfield, at this run."""
    if completed:
        return "completed"
    if greenfield < labourer.get_attr("start"):
        return "queued"
    if greenfield < labourer.get_attr("expired"):
        return "expired"
    return "running"


assert state(default, 2_000) == "queued"  # the first task of an empty queue: 1000 + 1000
assert state(default, NOW + delta) == "running"  # invoked at this run
assert state(default, NOW - 600 + delta) == "running"  # invoked 10 minutes ago: within 900 + 300 s
assert state(default, NOW - 3600 + delta) == "expired"  # invoked an hour ago and never completed
assert state(quick, NOW - 600 + delta) == "expired"  # 10 minutes is beyond 60 + 30 s
for name, value in (("start", NOW), ("expired", default.get_attr("expired")), ("invoked", NOW + delta)):
    print(f"{name:>8}: {value:,}")
