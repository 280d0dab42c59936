"""DynamoDbClient: plain dicts in and out, conditions as text, pagination, batches and transactions."""

import boto3

from sosw.components.dynamo_db import DynamoDbClient
from sosw.exceptions import ConditionCheckFailed, TransactionCancelled

# A table for this example: hash key "hk" (S), range key "rk" (N).
boto3.client("dynamodb").create_table(
    TableName="my_table", BillingMode="PAY_PER_REQUEST",
    KeySchema=[{"AttributeName": "hk", "KeyType": "HASH"}, {"AttributeName": "rk", "KeyType": "RANGE"}],
    AttributeDefinitions=[{"AttributeName": "hk", "AttributeType": "S"}, {"AttributeName": "rk", "AttributeType": "N"}],
)

client = DynamoDbClient({
    "table_name": "my_table",
    "row_mapper": {"hk": "S", "rk": "N", "status": "S", "size": "N", "tags": "M"},
    "required_fields": ["hk", "rk"],
})

client.put({"hk": "cat", "rk": 1, "status": "new", "size": 3, "tags": {"a": 1}})
client.batch_put({"hk": "cat", "rk": n, "status": "new", "size": n} for n in range(2, 60))  # 25 per request

# Queries follow LastEvaluatedKey; comparisons apply to the range key, filters to any attribute.
assert len(client.get_by_query({"hk": "cat"})) == 59
assert client.get_by_query({"hk": "cat", "rk": 57}, comparisons={"rk": ">="}) == [
    {"hk": "cat", "rk": 57, "status": "new", "size": 57}, {"hk": "cat", "rk": 58, "status": "new", "size": 58},
    {"hk": "cat", "rk": 59, "status": "new", "size": 59}]
assert client.get_by_query({"hk": "cat"}, filter_expression="size between 10 and 19", return_count=True) == 10
assert client.get_by_key({"hk": "cat", "rk": 1})["tags"] == {"a": 1}

# A conditional update that does not apply raises ConditionCheckFailed (a botocore ClientError) and changes nothing.
client.update({"hk": "cat", "rk": 1}, attributes_to_update={"status": "done"}, attributes_to_increment={"size": 1},
              condition_expression="status = new")
try:
    client.update({"hk": "cat", "rk": 1}, attributes_to_update={"status": "again"}, condition_expression="status = new")
except ConditionCheckFailed as err:
    print(err)
assert client.get_by_key({"hk": "cat", "rk": 1})["status"] == "done"

# patch() updates only an item that exists; update() would create it.
try:
    client.patch({"hk": "dog", "rk": 1}, attributes_to_update={"status": "x"})
except ConditionCheckFailed:
    pass
assert client.get_by_key({"hk": "dog", "rk": 1}) is None

# Transactions: up to 100 actions each, atomic; more are split into several transactions.
actions = [client.make_put_transaction_item({"hk": "bird", "rk": n}) for n in range(150)]
client.transact_write(*actions)
assert len(client.get_by_query({"hk": "bird"})) == 150

# A condition that fails cancels its whole transaction; the reasons say which action refused.
try:
    client.transact_write(
        client.make_put_transaction_item({"hk": "fish", "rk": 1}),
        client.make_delete_transaction_item({"hk": "cat", "rk": 1}, condition_expression="status = new"),
    )
except TransactionCancelled as err:
    assert err.reasons == [None, "ConditionalCheckFailed"]
assert client.get_by_key({"hk": "fish", "rk": 1}) is None  # the put did not happen either

# BatchGetItem, 100 keys a request; keys that do not exist are skipped.
items = client.batch_get_items_one_table([{"hk": "bird", "rk": n} for n in range(140, 160)])
assert len(items) == 10
print(client.get_stats())  # calls per DynamoDB operation
