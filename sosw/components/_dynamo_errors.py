"""botocore's ``ClientError`` of a failed condition or a cancelled transaction, translated into sosw's errors.

Each translated error is also the modeled exception of the client that raised it
(``client.exceptions.ConditionalCheckFailedException``), so code written for sosw 0.7.47, which caught those,
keeps working.
"""

import contextlib
from typing import Any, Dict, Iterator, Optional, Tuple, Type, TypeVar

from botocore.exceptions import ClientError

from sosw.components._dynamo_expressions import describe_condition
from sosw.exceptions import ConditionCheckFailed, TransactionCancelled

_Error = TypeVar("_Error", bound=Exception)

_CATCHABLE: Dict[Tuple[type, type], type] = {}


def catchable_as(error_class: Type[_Error], botocore_error: ClientError) -> Type[_Error]:
    """``error_class`` also derived from the class of ``botocore_error``: that is the modeled exception of the
    client that raised it, which users catch. botocore makes those classes per session, so the pair is built on
    demand (and kept)."""
    modeled = type(botocore_error)
    if issubclass(error_class, modeled):
        return error_class
    key = (error_class, modeled)
    if key not in _CATCHABLE:
        _CATCHABLE[key] = type(error_class.__name__, (error_class, modeled),
                               {"__module__": error_class.__module__, "__doc__": error_class.__doc__})
    return _CATCHABLE[key]


def _code(err: ClientError) -> Any:
    return err.response.get("Error", {}).get("Code")


def condition_failed(err: ClientError, table: str, keys: Any, condition: Any) -> Optional[ConditionCheckFailed]:
    """A failed condition as :class:`~sosw.exceptions.ConditionCheckFailed` naming the table, the keys and the
    condition; None for any other error."""
    if _code(err) != "ConditionalCheckFailedException":
        return None
    return catchable_as(ConditionCheckFailed, err)(err, table, keys, condition,
                                                   condition_text=describe_condition(condition))


@contextlib.contextmanager
def conditional_write(table: str, keys: Any, condition: Any) -> Iterator[None]:
    """Runs a conditional write: a failed condition is raised as :class:`~sosw.exceptions.ConditionCheckFailed`
    (see :func:`condition_failed`), any other error as it was."""
    try:
        yield
    except ClientError as err:
        failed = condition_failed(err, table, keys, condition)
        if failed is None:
            raise
        raise failed from err


def transaction_cancelled(err: ClientError) -> Optional[TransactionCancelled]:
    """A cancelled transaction as :class:`~sosw.exceptions.TransactionCancelled` with one reason per action
    (``None`` for the actions that were fine); None for any other error."""
    if _code(err) != "TransactionCanceledException":
        return None
    response: Dict[str, Any] = dict(err.response)
    reasons = [r.get("Code") if r.get("Code") not in (None, "None") else None
               for r in response.get("CancellationReasons", [])]
    error_class = catchable_as(TransactionCancelled, err)
    # Initialised as the ClientError it also is (TransactionCancelled's own __init__ would reach ClientError's
    # through super() with the wrong arguments); its message lists the reasons.
    error = error_class.__new__(error_class)
    ClientError.__init__(error, err.response, err.operation_name)  # type: ignore[arg-type]  # a ClientError too
    error.reasons = reasons
    return error
