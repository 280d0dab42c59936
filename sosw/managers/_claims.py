"""
The Worker's start guard: before a Worker runs its user's code, it claims its task for the attempt it was invoked
for, with one conditional UpdateItem. Lambda delivers an asynchronous invocation at least once and retries a failed
one, so the same attempt can reach a Worker twice, or late, after the task was invoked again; the claim lets exactly
one run of an attempt start, and none of an attempt the task has moved on from.

The Orchestrator puts the attempt in the invocation's payload, under :data:`ATTEMPT_KEY`: its number (the task's
``attempts`` after the invocation), the ``greenfield`` the invocation wrote, the tasks table, and the attribute names
the claim uses if the TaskManager's ``field_names`` renamed any (so a Worker needs no config to match the
Essentials'; its ``sosw_tasks_table`` is only for payloads that name no table). The claim holds when the task is
still on that attempt (``attempts`` and ``greenfield`` as the invocation left them), is not completed, is in the
tasks table (not archived nor waiting for a retry), and no run has claimed that attempt yet (``claimed_attempt``
below the number); it sets ``claimed_attempt`` and ``claimed_at``.

The rule is pure (:func:`claim_update`, an :class:`~sosw.managers._greenfield.Update` as data); :class:`ClaimStore`
writes it with a ``DynamoDbClient``.

.. code-block:: python

    attempt = Attempt.from_event(event)  # None for an event without one: run as before
    if attempt is None or ClaimStore(lambda: dynamo_db_client).claim(attempt, now=int(time.time())):
        run_the_body(event)
"""

import dataclasses
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from boto3.dynamodb.conditions import Attr

from sosw import constants
from sosw.exceptions import ConditionCheckFailed
from sosw.managers._greenfield import TASKS, Update
from sosw.managers._settings import FieldNames

__all__ = ["ATTEMPT_KEY", "CLAIMED_ATTEMPT", "CLAIMED_AT", "CLAIM_FIELDS", "Attempt", "ClaimStore",
           "attempt_fields", "claim_update", "start_by"]

#: Key of the invocation payload that carries the attempt:
#: ``{"number": 2, "greenfield": 1790000000, "table": "sosw_tasks", "start_by": 1758442700}`` (and ``"fields"`` if
#: any are renamed).
ATTEMPT_KEY = "sosw_attempt"
#: Attribute of the task: the number of the latest attempt a run claimed.
CLAIMED_ATTEMPT = "claimed_attempt"
#: Attribute of the task: when (the Worker's clock, whole seconds) the latest claim was made.
CLAIMED_AT = "claimed_at"
#: The fields a claim reads or writes: the payload names those that ``field_names`` renamed.
CLAIM_FIELDS = ("task_id", "attempts", "greenfield", "completed_at", CLAIMED_ATTEMPT, CLAIMED_AT)


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One invocation of a task's Worker, as the Orchestrator made it.

    :param task_id: The task.
    :param number: The task's ``attempts`` once this invocation was counted: 1 for the first.
    :param greenfield: The ``greenfield`` the invocation wrote on the task.
    :param table: The tasks table; None: the claim store's.
    :param renamed: ``(field, attribute name)`` pairs of the fields of :data:`CLAIM_FIELDS` that are renamed.
    :param start_by: Epoch seconds from which this attempt must not start (:func:`start_by`). A run that starts
        later could outlast the task's ``duration + cooldown``: the task would expire, and be retried or its slot
        given to another task, while it runs. None: no such limit (a payload of an Orchestrator before this field).

    .. code-block:: python

        Attempt.from_event({'task_id': 't1', 'sosw_attempt': {'number': 1, 'greenfield': 1790000000}})
        # Attempt(task_id='t1', number=1, greenfield=1790000000, table=None, renamed=())
    """

    task_id: str
    number: int
    greenfield: int
    table: Optional[str] = None
    renamed: Tuple[Tuple[str, str], ...] = ()
    start_by: Optional[int] = None

    @classmethod
    def from_event(cls, event: Any) -> Optional["Attempt"]:
        """The attempt of an invocation's event; None when the event names none (a direct invocation, a payload
        from sosw 0.7.47's Orchestrator) or names it in a shape this version does not know.

        :param event: The Worker's event.
        """
        if not isinstance(event, Mapping):
            return None
        task_id, attempt = event.get("task_id"), event.get(ATTEMPT_KEY)
        if not task_id or not isinstance(task_id, str) or not isinstance(attempt, Mapping):
            return None
        number, greenfield = attempt.get("number"), attempt.get("greenfield")
        table, renamed = attempt.get("table"), attempt.get("fields") or {}
        if isinstance(number, bool) or isinstance(greenfield, bool) or not isinstance(renamed, Mapping):
            return None
        if not (isinstance(number, int) and isinstance(greenfield, int)):
            return None
        if not all(isinstance(name, str) and name for name in (*renamed.keys(), *renamed.values())):
            return None
        start_by = attempt.get("start_by")
        return cls(task_id, number, greenfield, table if isinstance(table, str) and table else None,
                   tuple(sorted(renamed.items())),
                   start_by if isinstance(start_by, int) and not isinstance(start_by, bool) else None)

    def is_late(self, now: float) -> bool:
        """Whether a run starting at ``now`` (epoch seconds) starts too late: at :attr:`start_by` or after."""
        return self.start_by is not None and now >= self.start_by

    def field_names(self, default: FieldNames) -> FieldNames:
        """The attribute names of the task: those the payload renamed, else ``default``.

        :param default: The claim store's field names.
        """
        return FieldNames.from_config(dict(self.renamed)) if self.renamed else default


def start_by(invoked: int, cooldown: int) -> int:
    """The moment from which a run of an attempt invoked at ``invoked`` (whole epoch seconds, as the greenfield
    counts them) must not start: ``invoked + cooldown + 1``. The task counts as expired from the whole second
    ``invoked + duration + cooldown + 1``, and a run is killed at the function's timeout, which the Labourer's
    ``duration`` is not shorter than: a run that starts before this moment ends before its task expires.

    .. code-block:: python

        start_by(1790000000, cooldown=300)  # 1790000301
    """
    return int(invoked) + int(cooldown) + 1


def attempt_fields(fields: FieldNames, task: Mapping[str, Any], greenfield: int, table: str,
                   start_by: Optional[int] = None) -> Dict[str, Any]:
    """What the Orchestrator adds to the payload of an invocation of ``task`` (as read before it was marked
    invoked) that wrote ``greenfield``: the attempt, under :data:`ATTEMPT_KEY`.

    :param fields: Attribute names of tasks.
    :param task: The task as read from the queue; its ``attempts`` do not count this invocation yet.
    :param greenfield: The greenfield the invocation wrote.
    :param table: The tasks table.
    :param start_by: Epoch seconds from which the attempt must not start (:func:`start_by`); None: no limit.
    """
    attempt: Dict[str, Any] = {"number": int(task.get(fields.attempts) or 0) + 1, "greenfield": int(greenfield),
                               "table": table}
    if start_by is not None:
        attempt["start_by"] = int(start_by)
    renamed = {name: fields.get(name) for name in CLAIM_FIELDS if fields.get(name) != name}
    if renamed:
        attempt["fields"] = renamed
    return {ATTEMPT_KEY: attempt}


def claim_update(fields: FieldNames, attempt: Attempt, now: int) -> Update:
    """Claim the task for ``attempt``: only if it is still on that attempt, not completed, in the tasks table, and
    that attempt is not claimed yet.

    :param fields: Attribute names of tasks.
    :param attempt: The attempt of the invocation.
    :param now: Stored as ``claimed_at``.
    """
    claimed = Attr(fields.get(CLAIMED_ATTEMPT))
    condition = (Attr(fields.task_id).exists() & Attr(fields.attempts).eq(attempt.number)
                 & Attr(fields.greenfield).eq(attempt.greenfield) & Attr(fields.completed_at).not_exists()
                 & (claimed.not_exists() | claimed.lt(attempt.number)))
    return Update(TASKS, {fields.task_id: attempt.task_id},
                  {fields.get(CLAIMED_ATTEMPT): attempt.number, fields.get(CLAIMED_AT): int(now)},
                  condition=condition)


class ClaimStore:
    """Writes claims to the tasks table.

    :param client: Gives the ``DynamoDbClient`` to write with, asked at each claim (its owner may replace it).
    :param table: The tasks table of an attempt that names none.
    :param fields: Attribute names of tasks, for an attempt that renames none.

    .. code-block:: python

        store = ClaimStore(lambda: DynamoDbClient({'table_name': 'sosw_tasks'}))
        store.claim(Attempt('t1', 1, 1790000000), now=1758442400)  # True once, then False
    """

    def __init__(self, client: Callable[[], Any], table: str = constants.TASKS_TABLE,
                 fields: Optional[FieldNames] = None) -> None:
        self._client = client
        self.table = table
        self.fields = fields if fields is not None else FieldNames()

    def claim(self, attempt: Attempt, now: int) -> bool:
        """Claim the task for ``attempt``: one conditional UpdateItem.

        :param attempt: The attempt of the invocation.
        :param now: Stored as ``claimed_at``.
        :return: True if this call claimed it: the run may go on; False if the task is on another attempt,
            completed, not in the tasks table, or the attempt was claimed already.
        :raises ~botocore.exceptions.ClientError: Any other error of DynamoDB (e.g. ``AccessDeniedException``).
        """
        update = claim_update(attempt.field_names(self.fields), attempt, now)
        try:
            self._client().update(update.key, attributes_to_update=update.values,
                                  table_name=attempt.table or self.table, condition_expression=update.condition)
        except ConditionCheckFailed:
            return False
        return True
