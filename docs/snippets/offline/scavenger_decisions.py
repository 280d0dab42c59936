"""The Scavenger's decisions for an expired task: retry (after how long?) or close it as dead."""

from unittest import mock

import sosw.app
from sosw.labourer import Labourer
from sosw.scavenger import Scavenger

with mock.patch.object(sosw.app, "get_config", return_value={}):
    scavenger = Scavenger(custom_config={"min_retry_delay": 60})

labourer = Labourer(id="my_worker", duration=300)
labourer.set_custom_attribute("max_attempts", 3)  # per Labourer: max_attempts, or max_attempts_<labourer> config
labourer.set_custom_attribute("max_duration", 120)  # the longest recent run, which the Scavenger reads once per run

for attempts, retried, delay in [(1, True, 120), (2, True, 240), (3, False, None)]:
    task = {"task_id": "t1", "labourer_id": "my_worker", "attempts": attempts}
    assert scavenger.should_retry_task(labourer, task) is retried
    if retried:
        # max(max_duration, min_retry_delay) x attempts: the delay grows with every failed attempt.
        assert scavenger.calculate_delay_for_task_retry(labourer, task) == delay
    print(f"attempts {attempts}: " + (f"retry in {delay} s" if retried else "dead: archived as my_worker_0, SNS"))

labourer.set_custom_attribute("max_duration", 5)  # quick runs: min_retry_delay is the floor
assert scavenger.calculate_delay_for_task_retry(labourer, {"attempts": 1}) == 60
