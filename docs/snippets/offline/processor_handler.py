"""Components by name (``init_clients``), statistics, and the Lambda entry point, without AWS."""

from unittest import mock

import sosw.app
from sosw.app import LambdaGlobals, Processor, get_lambda_handler
from sosw.components.dynamo_db import DynamoDbClient


class Counter(Processor):
    DEFAULT_CONFIG = {
        # 'DynamoDb' is a sosw component: self.dynamo_db_client, configured by config['dynamo_db_config'].
        # 's3' is no component: a boto3 client, self.s3_client. Clients connect lazily, on their first call.
        "init_clients": ["DynamoDb", "s3"],
        "dynamo_db_config": {"table_name": "my_table", "row_mapper": {"id": "S", "n": "N"}},
    }
    created = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        Counter.created += 1

    def __call__(self, event):
        self.stats["events"] += 1
        self.stats["rows"] += len(event["rows"])
        return {"rows": len(event["rows"])}


class Context:
    """Just enough of the Lambda context for this example."""

    aws_request_id = "00000000-0000-0000-0000-000000000001"
    invoked_function_arn = "arn:aws:lambda:us-west-2:000000000000:function:counter"

    def get_remaining_time_in_millis(self):
        return 60_000


global_vars = LambdaGlobals()
lambda_handler = get_lambda_handler(Counter, global_vars)

with mock.patch.object(sosw.app, "get_config", return_value={}):
    assert lambda_handler({"rows": [1, 2, 3]}, Context()) == {"rows": 3}
    assert lambda_handler({"rows": [4]}, Context()) == {"rows": 1}

processor = global_vars.processor
assert Counter.created == 1  # one Processor per container: the second call reused it
assert isinstance(processor.dynamo_db_client, DynamoDbClient)
assert processor.dynamo_db_client.config["table_name"] == "my_table"
assert type(processor.s3_client).__name__ == "S3"  # a plain boto3 client
assert global_vars.lambda_context.aws_request_id.endswith("0001")

# After each call the handler logs the stats and resets them: the current values move into total_<key>.
assert processor.stats["total_events"] == 2 and processor.stats["total_rows"] == 4
assert "events" not in processor.stats

# get_stats() adds the stats of every component, each counted once (DynamoDB calls, SNS messages, ...).
processor.stats["events"] += 1
processor.dynamo_db_client.stats["dynamo_query_calls"] += 2
assert processor.get_stats()["dynamo_query_calls"] == 2
assert processor.get_stats(recursive=False).get("dynamo_query_calls") is None
