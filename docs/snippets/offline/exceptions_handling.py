"""sosw's errors name what was wrong, and keep working with the except clauses you already have."""

from botocore.exceptions import ClientError

from sosw.exceptions import (
    ConditionCheckFailed,
    ConfigError,
    InvalidEvent,
    InvalidInput,
    InvalidJob,
    SoswError,
    TaskNotFound,
    TransactionCancelled,
)

# InvalidJob and InvalidEvent are InvalidInput, which is a ValueError: the field at fault is in .field.
err = InvalidJob("expected a positive integer, got 0", field="max_words_per_batch", value=0)
assert isinstance(err, InvalidInput) and isinstance(err, ValueError) and isinstance(err, SoswError)
assert (err.field, err.value, str(err)) == ("max_words_per_batch", 0, "max_words_per_batch: expected a positive "
                                                                      "integer, got 0")
assert issubclass(InvalidEvent, InvalidInput)
assert str(ConfigError("expected a dict", config_name="job_schema")) == "job_schema: expected a dict"
assert isinstance(TaskNotFound("3f2a9c", "sosw_tasks"), LookupError)

# A conditional write that did not happen: still a botocore ClientError, with the table, keys and condition.
response = {"Error": {"Code": "ConditionalCheckFailedException", "Message": "The conditional request failed"}}
failed = ConditionCheckFailed(ClientError(response, "UpdateItem"), "sosw_tasks", {"task_id": "3f2a9c"},
                              "attribute_not_exists completed_at")
assert isinstance(failed, ClientError) and failed.response["Error"]["Code"] == "ConditionalCheckFailedException"
print(failed)

# A cancelled transaction lists one reason per action (None where the action was fine).
cancelled = TransactionCancelled("transaction cancelled", ["ConditionalCheckFailed", None])
assert cancelled.reasons[0] == "ConditionalCheckFailed"

try:
    raise InvalidJob("unknown period 'fortnight'", field="period")
except SoswError as error:  # one except clause for every error sosw raises on purpose
    print(type(error).__name__, error)
