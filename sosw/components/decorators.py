"""
Decorators for any function: log its calls with their arguments, retry it on failure with exponential backoff.

.. code-block:: python

    import logging

    from sosw.components.decorators import logging_wrapper, retry


    @retry(ConnectionError, tries=3, delay=1, backoff=2)
    @logging_wrapper(logging.DEBUG)
    def fetch(url, timeout=10):
        ...
"""

import functools
import logging
import time
from typing import Any, Callable, Optional, Tuple, Type, Union

from sosw.exceptions import InvalidArgument

__all__ = ["logging_wrapper", "retry"]

logger = logging.getLogger(__name__)


def _describe_call(method: Callable[..., Any], args: Tuple[Any, ...], kwargs: dict) -> str:
    """``Running Class.method with a=1, b=2, 3, t=4``: positional arguments by their names, ``self`` left out."""
    code = getattr(method, "__code__", None)
    names = code.co_varnames[: code.co_argcount] if code else ()
    parts = []
    for i, arg in enumerate(args):
        if i >= len(names):
            parts.append(f"{arg}")
        elif names[i] != "self":
            parts.append(f"{names[i]}={arg}")
    parts.extend(f"{key}={value}" for key, value in kwargs.items())
    name = getattr(method, "__qualname__", repr(method))
    return f"Running {name} with {', '.join(parts)}" if parts else f"Running {name}"


def logging_wrapper(level: Optional[int] = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Log each call of the decorated function with its arguments, before running it.

    :param level: The logging level of the record, for example ``logging.DEBUG``. Default: ``logging.INFO``.
    :return: The decorator.

    .. code-block:: python

        @logging_wrapper(logging.INFO)
        def foo(a, b, c=4, *arglist, **keywords):
            ...

        foo(1, 2, 3, 4, 5, t=6, z=7)  # logs "Running foo with a=1, b=2, c=3, 4, 5, t=6, z=7"
    """
    record_level = level or logging.INFO

    def decorator(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if logger.isEnabledFor(record_level):
                logger.log(record_level, "%s", _describe_call(method, args, kwargs))
            return method(*args, **kwargs)

        return wrapper

    return decorator


def retry(
    exception_to_check: Union[Type[BaseException], Tuple[Type[BaseException], ...]] = Exception,
    tries: int = 4,
    delay: float = 3,
    backoff: float = 2,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Call the decorated function again when it raises ``exception_to_check``, waiting longer each time.

    The last try raises whatever the function raises. Each retry is logged as a warning.

    :param exception_to_check: The exception to retry on, or a tuple of them.
    :param tries: The number of calls at most, 1 or more.
    :param delay: Seconds to wait before the first retry, 0 or more.
    :param backoff: The factor the delay is multiplied by after each retry, 1 or more: 2 doubles it.
    :return: The decorator.
    :raises InvalidArgument: If ``tries``, ``delay`` or ``backoff`` is out of range (also an ``AssertionError``, as
        in 0.7.47).

    .. code-block:: python

        @retry(ConnectionError, tries=3, delay=1, backoff=2)
        def fetch():
            ...  # called up to 3 times: again after 1 s, then after 2 s
    """
    for name, value, minimum in (("tries", tries, 1), ("delay", delay, 0), ("backoff", backoff, 1)):
        if not value >= minimum:
            raise InvalidArgument(f"must be {minimum} or greater, got {value!r}", name, value)

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            wait = delay
            for _ in range(tries - 1):
                try:
                    return func(*args, **kwargs)
                except exception_to_check as err:
                    logger.warning("%s, Retrying in %s seconds...", err, wait)
                    time.sleep(wait)
                    wait *= backoff
            return func(*args, **kwargs)

        return wrapper

    return decorator
