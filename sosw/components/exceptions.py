"""
Errors of the components, as in sosw 0.7.47.

Bad arguments of the helpers and decorators raise :class:`~sosw.exceptions.InvalidArgument` (a ``ValueError``, also an
``AttributeError`` and an ``AssertionError``) or :class:`~sosw.exceptions.InvalidArgumentType` (also a
``TypeError``): 0.7.47 raised each of those types for some bad arguments, sometimes on purpose
(``construct_dates_from_event``, the ``exclude_key`` / ``exclude_val`` pair of the ``recursive_matches_*`` helpers),
sometimes from the first operation the bad value failed; code that catches them keeps working.

.. code-block:: python

    from sosw.components.exceptions import EventNotFromSourceException
    from sosw.components.helpers import get_message_dict_from_sns_event

    try:
        get_message_dict_from_sns_event({'foo': 'bar'})
    except EventNotFromSourceException as err:  # also a ValueError
        print(err)  # event: not from SNS: ...
"""

from sosw.exceptions import InvalidInput

__all__ = ["EventNotFromSourceException"]


class EventNotFromSourceException(InvalidInput):
    """The Lambda event does not come from the source it was read as (``'sns'``, ``'sqs'``). A ``ValueError``.

    :param message: What is wrong.
    :param field: The argument at fault, ``event`` by default.
    """

    def __init__(self, message: str, field: str = "event"):
        super().__init__(message, field)
