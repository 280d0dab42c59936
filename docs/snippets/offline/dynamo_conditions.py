"""Human condition strings, as DynamoDbClient methods accept them, become boto3 conditions (escaped, typed)."""

from boto3.dynamodb.conditions import Attr

from sosw.components.dynamo_db import DynamoDbClient, describe_condition, parse_condition

condition = parse_condition("attribute_not_exists completed_at AND greenfield <= 42")
assert condition == Attr("completed_at").not_exists() & Attr("greenfield").lte(42)
print(describe_condition(condition))

# Values are typed by the row_mapper when it knows the attribute, else numbers become numbers.
assert parse_condition("status = 200", {"status": "S"}) == Attr("status").eq("200")
assert parse_condition("size between 10 and 20") == Attr("size").between(10, 20)
assert parse_condition("begins_with(name, sosw_)") == Attr("name").begins_with("sosw_")

# A reserved word as attribute name is no problem: every name becomes a placeholder in the request.
client = DynamoDbClient({"table_name": "my_table", "row_mapper": {"name": "S", "size": "N"}})
request = client.make_update_transaction_item({"name": "a"}, attributes_to_update={"size": 3},
                                              condition_expression="attribute_exists name")["Update"]
assert set(request["ExpressionAttributeNames"].values()) == {"name", "size"}
print(request["UpdateExpression"], "IF", request["ConditionExpression"])

try:
    parse_condition("greenfield is small")
except ValueError as err:
    print(err)
