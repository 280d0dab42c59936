"""
Parsing config values into settings, once, when an Essential or a Worker is built (as s3transfer's
``TransferConfig``): each parser returns the value in its one type or raises :class:`~sosw.exceptions.ConfigError`
naming ``<config row>.<key>``.

Config rows are JSON edited by hand and DynamoDB hands numbers back as ``Decimal``, so numbers are accepted as
``int``, ``float``, ``Decimal`` or text of a number; ``True`` is never taken for 1.

.. code-block:: python

    from sosw._settings import config_row_name, parse_seconds

    row = config_row_name()  # 'sosw_scavenger_config' in that Lambda, 'custom_config' outside one
    parse_seconds('90', f'{row}.min_retry_delay')  # 90.0
    parse_seconds('soon', f'{row}.min_retry_delay')
    # ConfigError: custom_config.min_retry_delay: expected a number of seconds, got 'soon'
"""

import copy
import os
import types
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping, Optional

from sosw import constants
from sosw.components.helpers import to_bool
from sosw.exceptions import ConfigError

__all__ = ["CUSTOM_CONFIG_NAME", "config_row_name", "parse_bool", "parse_int", "parse_mapping", "parse_number",
           "parse_seconds", "parse_text"]

#: What errors name as the row when no Lambda function name tells the row: the config came from ``custom_config``.
CUSTOM_CONFIG_NAME = "custom_config"


def config_row_name() -> str:
    """The config row that errors name: ``<AWS_LAMBDA_FUNCTION_NAME>_config``, else ``custom_config``."""
    function_name = os.environ.get(constants.ENV_FUNCTION_NAME)
    return f"{function_name}_config" if function_name else CUSTOM_CONFIG_NAME


def _decimal(value: Any) -> Optional[Decimal]:
    """``value`` as a finite ``Decimal`` if it is a number or the text of one; ``None`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        return None
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def parse_number(value: Any, config_name: str, *, minimum: Optional[float] = None) -> float:
    """A finite number: ``int``, ``float``, ``Decimal`` or its text (``"0.75"``).

    :param value: The config value.
    :param config_name: ``<row>.<key>``, named by the error.
    :param minimum: The smallest value accepted, if any.
    :raises ConfigError: Not a finite number, or below ``minimum``.
    """
    number = _decimal(value)
    if number is None or (minimum is not None and number < Decimal(str(minimum))):
        bound = f" of at least {minimum:g}" if minimum is not None else ""
        raise ConfigError(f"expected a number{bound}, got {value!r}", config_name=config_name)
    return float(number)


def parse_int(value: Any, config_name: str, *, minimum: Optional[int] = 0) -> int:
    """A whole number: ``int``, an integral ``float`` / ``Decimal`` (``10.0``), or its text (``"10"``).

    :param value: The config value.
    :param config_name: ``<row>.<key>``, named by the error.
    :param minimum: The smallest value accepted (0 by default); ``None``: any.
    :raises ConfigError: Not a whole number, or below ``minimum``.
    """
    number = _decimal(value)
    if number is None or number != number.to_integral_value() or (minimum is not None and number < minimum):
        bound = f" of at least {minimum}" if minimum is not None else ""
        raise ConfigError(f"expected a whole number{bound}, got {value!r}", config_name=config_name)
    return int(number)


def parse_seconds(value: Any, config_name: str) -> float:
    """A duration in seconds, zero or more: a number or its text (``"60"``).

    :param value: The config value.
    :param config_name: ``<row>.<key>``, named by the error.
    :raises ConfigError: Not a number of seconds.
    """
    number = _decimal(value)
    if number is None or number < 0:
        raise ConfigError(f"expected a number of seconds, got {value!r}", config_name=config_name)
    return float(number)


def parse_bool(value: Any, config_name: str) -> bool:
    """A flag, read as :func:`~sosw.components.helpers.to_bool` reads it (``True``, ``"yes"``, ``1``, ``None``...).

    :param value: The config value.
    :param config_name: ``<row>.<key>``, named by the error.
    :raises ConfigError: Not a flag, e.g. ``"maybe"``.
    """
    try:
        return to_bool(value)
    except (ValueError, TypeError, AttributeError):
        raise ConfigError(f"expected true or false, got {value!r}", config_name=config_name) from None


def parse_text(value: Any, config_name: str) -> str:
    """A non-empty string.

    :param value: The config value.
    :param config_name: ``<row>.<key>``, named by the error.
    :raises ConfigError: Not a string, or empty.
    """
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"expected a non-empty string, got {value!r}", config_name=config_name)
    return value


def parse_mapping(value: Any, config_name: str) -> Mapping[str, Any]:
    """A JSON object, as a read-only view of a deep copy (``None`` is an empty one).

    :param value: The config value.
    :param config_name: ``<row>.<key>``, named by the error.
    :raises ConfigError: Not an object.
    """
    if value is None:
        return types.MappingProxyType({})
    if not isinstance(value, Mapping):
        raise ConfigError(f"expected an object, got {value!r}", config_name=config_name)
    return types.MappingProxyType(copy.deepcopy(dict(value)))
