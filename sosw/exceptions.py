"""
The errors sosw raises on purpose. Each names what was wrong: the field of a job or event, the config row, the task.

.. code-block:: python

    from sosw.exceptions import SoswError, InvalidJob

    try:
        scheduler(event)
    except InvalidJob as err:
        print(err.field, err)
"""

from typing import Any, Dict, Mapping, Optional

from botocore.exceptions import ClientError


class SoswError(Exception):
    """Base of every error raised by sosw on purpose."""


class ConfigError(SoswError, ValueError):
    """A config row, or a key in it, is missing or malformed.

    :param message: What is wrong.
    :param config_name: The config row (e.g. ``sosw_orchestrator_config``) or key at fault.
    """

    def __init__(self, message: str, config_name: Optional[str] = None):
        self.config_name = config_name
        super().__init__(f"{config_name}: {message}" if config_name else message)


class InvalidInput(SoswError, ValueError):
    """A field of some input is malformed; ``field`` names it."""

    def __init__(self, message: str, field: Optional[str] = None, value: Any = None):
        self.field = field
        self.value = value
        #: What is wrong, without the field name (for re-raising under another field).
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class InvalidJob(InvalidInput, AssertionError):
    """A Scheduler job is malformed. Nothing was written. Also an ``AssertionError``, which sosw 0.7.47 raised for a
    job without ``lambda_name`` or a malformed period."""


class InvalidEvent(InvalidInput, AssertionError):
    """A Lambda event is malformed (missing or unknown ``action``, missing ``task_id``, ...). Also an
    ``AssertionError``, which the WorkerAssistant of sosw 0.7.47 raised for a ``task_id`` that is no string."""


class LabourerNotFound(InvalidInput, LookupError, RuntimeError):
    """The named Labourer is not configured. Also a ``RuntimeError``, which the Scheduler of sosw 0.7.47 raised for
    a job of an unregistered Labourer."""


class TaskNotFound(SoswError, LookupError):
    """The task does not exist (any more) in the table where it was expected."""

    def __init__(self, task_id: str, table_name: Optional[str] = None):
        self.task_id = task_id
        self.table_name = table_name
        where = f" in {table_name}" if table_name else ""
        super().__init__(f"task {task_id!r} not found{where}")


class ConditionCheckFailed(SoswError, ClientError):
    """A conditional DynamoDB write did not happen because its condition was false.

    Subclasses botocore's ``ClientError`` so that code catching that keeps working.

    :param error: The ``ClientError`` botocore raised.
    :param table_name: The table written to.
    :param keys: The item's keys (or the row put).
    :param condition: The condition that was false, as given (text or a boto3 condition object).
    :param condition_text: The condition as text for the message; ``str(condition)`` if not given. The raiser
        describes a condition object, whose ``str`` is only its class name.
    """

    def __init__(self, error: ClientError, table_name: str, keys: Any, condition: Any = None,
                 condition_text: Optional[str] = None):
        self.table_name = table_name
        self.keys = keys
        self.condition = condition
        self.condition_text = str(condition) if condition_text is None else condition_text
        ClientError.__init__(self, error.response, error.operation_name)

    def __str__(self) -> str:
        return f"condition failed on {self.table_name} item {self.keys}: {self.condition_text}"


class TransactionCancelled(SoswError):
    """A DynamoDB transaction was cancelled; ``reasons`` lists the code per action (``None`` where it was fine)."""

    def __init__(self, message: str, reasons: list):
        self.reasons = reasons
        super().__init__(message)


class InvocationError(SoswError):
    """A Lambda invocation was refused or failed before the function ran."""


class InvalidNotification(InvalidInput, RuntimeError, AssertionError):
    """An ``SnsManager`` setting or argument is missing or malformed (no subject or recipient, a recipient that is
    no ARN, an empty topic name). Also a ``RuntimeError`` and an ``AssertionError``, which sosw 0.7.47 raised for
    these."""


class InvalidDynamoInput(InvalidInput, AssertionError):
    """An argument of ``DynamoDbClient`` is malformed (a comparison, a condition or filter expression, its config);
    ``field`` names it. Also an ``AssertionError``, which sosw 0.7.47 raised for these."""


class InvalidTableName(InvalidInput, RuntimeError, AssertionError):
    """No table name was given and the config has none, or test mode refuses a table not named ``autotest_*``.
    Also a ``RuntimeError`` and an ``AssertionError``, which sosw 0.7.47 raised for these."""


class InvalidChoice(InvalidInput, KeyError):
    """A value is not one of those accepted (e.g. the ``action`` of ``DynamoDbClient.sleep_db``). Also a
    ``KeyError``, which sosw 0.7.47 raised when it looked the value up."""

    def __str__(self) -> str:
        # KeyError would print the message quoted, as if it were a key.
        return Exception.__str__(self)


class InvalidTask(InvalidInput, AssertionError):
    """A task item unfit for the call: a required field is missing, or it belongs to another Labourer. Also an
    ``AssertionError``, which sosw 0.7.47 raised for the latter."""


class InvalidArgument(InvalidInput, AttributeError, AssertionError):
    """Arguments that are not supported or cannot go together (an unknown Labourer attribute with ``strict``, both
    or neither of ``task`` and ``task_id``, a reserved field of an event). Also an ``AttributeError`` and an
    ``AssertionError``, which sosw 0.7.47 raised for these."""


class InvalidArgumentType(InvalidArgument, TypeError):
    """An argument of a type the helper or decorator cannot use (``field`` names it). Also a ``TypeError``, and the
    ``ValueError`` / ``AttributeError`` / ``AssertionError`` that sosw 0.7.47 raised for some of these."""


class UnsupportedSetting(ConfigError, AttributeError, AssertionError):
    """A config value sosw cannot use (an unknown comparison operator, several statistics for one health metric).
    Also an ``AttributeError`` and an ``AssertionError``, which sosw 0.7.47 raised for these."""


class UnknownJobSchema(InvalidJob, InvalidChoice):
    """A job's ``job_schema_name`` names no configured job schema variant. Also a ``KeyError``, which sosw 0.7.47
    raised when it looked the name up."""


class SchedulerConfigError(ConfigError, AssertionError, TypeError):
    """The Scheduler's ``job_schema``, ``job_schema_variants`` or ``custom_period_patterns`` is malformed. Also an
    ``AssertionError`` and a ``TypeError``, which sosw 0.7.47 raised for these."""


def describe_error(err: BaseException) -> str:
    """What went wrong, in one line: the AWS error code, the operation and AWS's message for an AWS error (the
    message of an ``AccessDenied`` names the action refused, e.g. ``dynamodb:Query``), else the type and message."""
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        return f"{error.get('Code', 'Unknown')} on {err.operation_name} ({error.get('Message', '')})"
    return f"{type(err).__name__}: {err}"


class LabourersFailed(SoswError, RuntimeError):
    """The work of one or more Labourers failed in a run of an Essential; the other Labourers' work was done.

    :param essential: The Essential, e.g. ``'Orchestrator'``.
    :param failures: The error of each Labourer that failed, by Labourer id.

    .. code-block:: python

        try:
            orchestrator({})
        except LabourersFailed as err:
            err.failures  # {'w1': ClientError(...)}
    """

    def __init__(self, essential: str, failures: Mapping[Any, BaseException]):
        self.essential = essential
        #: The error of each Labourer that failed, by Labourer id.
        self.failures: Dict[Any, BaseException] = dict(failures)
        count = len(self.failures)
        details = "; ".join(f"{labourer_id}: {describe_error(err)}" for labourer_id, err in self.failures.items())
        super().__init__(f"{essential}: the work of {count} Labourer{'s' if count != 1 else ''} failed: {details}")
