"""
The job of a Scheduler event: the event (a dict or JSON text) holds the job under ``job``, or is the job; the
Labourer is the job's ``lambda_name`` or ``labourer_id``, else the event's.

.. code-block:: python

    from sosw.scheduling.jobs import extract_job

    extract_job('{"lambda_name": "w", "job": {"words": ["a"]}}')  # {'words': ['a'], 'lambda_name': 'w'}
"""

import json
from typing import Any, Dict, Mapping, Tuple

from sosw.components.helpers import trim_arn_to_name
from sosw.exceptions import InvalidJob

__all__ = ["extract_job", "json_object", "labourer_name"]

_LABOURER_KEYS = ("lambda_name", "labourer_id")


def json_object(value: Any, field: str) -> Dict[str, Any]:
    """``value`` as a dict: a dict as it is, JSON object text (str or bytes) decoded.

    :param value: The event or the job.
    :param field: Its name, for the error.
    :raises InvalidJob: Not a JSON object.
    """
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as err:
            raise InvalidJob(f"not valid JSON ({err})", field=field) from None
    if not isinstance(value, dict):
        raise InvalidJob(f"expected a JSON object, got {type(value).__name__}", field=field, value=value)
    return value


def labourer_name(job: Mapping[str, Any]) -> Tuple[str, str]:
    """(the key naming the Labourer, its name) of a job.

    :raises InvalidJob: No Labourer named, a name that is no text, or ``lambda_name`` and ``labourer_id`` naming two.

    .. code-block:: python

        labourer_name({'labourer_id': 'w'})  # ('labourer_id', 'w')
    """
    given = {key: job[key] for key in _LABOURER_KEYS if job.get(key) is not None}
    if not given:
        raise InvalidJob("the job names no Labourer (lambda_name or labourer_id)", field="lambda_name")
    for key, value in given.items():
        if not isinstance(value, str) or not value.strip():
            raise InvalidJob(f"expected a function name or ARN, got {value!r}", field=key, value=value)
    if len({trim_arn_to_name(value) for value in given.values()}) > 1:
        raise InvalidJob(f"names another Labourer than lambda_name {given['lambda_name']!r}",
                         field="labourer_id", value=given["labourer_id"])
    key = next(iter(given))
    return key, given[key]


def extract_job(event: Any) -> Dict[str, Any]:
    """The job of an event: ``event['job']`` if present, else the event itself; each may be JSON text.

    The Labourer is the job's ``lambda_name`` or ``labourer_id``, else the event's; it is set as the job's
    ``lambda_name`` when the job has neither. An ARN in ``lambda_name`` is trimmed to the function name.

    :param event: The Lambda event.
    :return: The job as a new dict.
    :raises InvalidJob: Not a JSON object, or no Labourer named.
    """
    payload = json_object(event, "event")
    job = dict(json_object(payload["job"], "job")) if "job" in payload else dict(payload)
    if not any(job.get(key) is not None for key in _LABOURER_KEYS):
        _, name = labourer_name(payload)
        job["lambda_name"] = name
    labourer_name(job)
    if job.get("lambda_name") is not None:
        job["lambda_name"] = trim_arn_to_name(job["lambda_name"])
    return job
