"""
Invoking Workers: one asynchronous Lambda ``invoke`` per task, several at once from a thread pool. An invocation
that Lambda refuses comes back as the text of its error, for the TaskManager to put the task back in the queue.

.. code-block:: python

    errors = invoke_workers(lambda_client, labourer, [payload_1, payload_2], threads=8)  # [None, None]
"""

from concurrent.futures import ThreadPoolExecutor
from typing import Any, List, Optional, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from sosw.labourer import Labourer


def invoke_worker(lambda_client: Any, labourer: Labourer, payload: bytes) -> Optional[str]:
    """Invoke the Labourer's function with ``InvocationType='Event'``.

    :return: None if Lambda accepted it, else what went wrong.
    """
    try:
        response = lambda_client.invoke(FunctionName=labourer.function_name, InvocationType="Event", Payload=payload)
    except (ClientError, BotoCoreError) as err:
        return f"{type(err).__name__}: {err}"
    if not isinstance(response, dict):  # a test double of the client: nothing to check
        return None
    if response.get("StatusCode") not in (200, 202) or response.get("FunctionError"):
        return f"Lambda answered {response.get('StatusCode')} {response.get('FunctionError') or ''}".strip()
    return None


def invoke_workers(lambda_client: Any, labourer: Labourer, payloads: Sequence[bytes],
                   threads: int) -> List[Optional[str]]:
    """:func:`invoke_worker` for each payload, ``threads`` at a time.

    :return: What went wrong per payload (None where Lambda accepted it), in order.
    """
    if not payloads:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(payloads)))) as pool:
        return list(pool.map(lambda payload: invoke_worker(lambda_client, labourer, payload), payloads))
