"""SiblingsManager: hand the rest of the work to a new invocation of the running function, safely."""

import os

import boto3

from sosw.components.siblings import SiblingsManager
from sosw.local.lambda_service import LocalLambdaService

ARN = "arn:aws:lambda:us-west-2:123456789012:function:my_importer"


class Context:
    """The Lambda context of the running function, as far as siblings need it."""

    invoked_function_arn = ARN
    function_name = "my_importer"


# A local Lambda endpoint stands for Lambda, where the function my_importer only records what it receives.
lambdas = LocalLambdaService().start()
os.environ.update(lambdas.environ())
lambdas.register("my_importer", lambda event, context: None)

siblings = SiblingsManager()

# No enabled rule targets the function: spawn_sibling() refuses (and logs a warning) unless forced.
assert siblings.any_events_rules_enabled(Context()) is False
assert siblings.spawn_sibling(Context(), payload={"cursor": 120}) is False
assert lambdas.invocations == []

# A scheduled rule triggers it: siblings may go on, and will stop when the rule is disabled.
events = boto3.client("events")
events.put_rule(Name="my_importer_hourly", ScheduleExpression="rate(1 hour)", State="ENABLED")
events.put_targets(Rule="my_importer_hourly", Targets=[{"Id": "my_importer", "Arn": ARN}])
assert siblings.any_events_rules_enabled(Context()) is True
assert siblings.spawn_sibling(Context(), payload={"cursor": 120}) is True

assert lambdas.wait_idle(10)
call, = lambdas.invocations
assert call["function"] == "my_importer" and call["type"] == "Event"
assert call["payload"] == {"cursor": 120}

events.disable_rule(Name="my_importer_hourly")
assert siblings.spawn_sibling(Context(), payload={"cursor": 240}) is False
assert siblings.spawn_sibling(Context(), payload={"cursor": 240}, force=True) is True  # force skips the check
assert siblings.stats["siblings_spawned"] == 2
lambdas.stop()
