"""
Config sources: a DynamoDB table (the default), SSM Parameter Store and Secrets Manager.

A Processor assembles its config from ``<AWS_LAMBDA_FUNCTION_NAME>_config`` through :func:`get_config`. The DynamoDB
table has hash key ``env`` (``production`` unless ``SOSW_CONFIG_ENV`` says otherwise), range key ``config_name`` and
the JSON text in ``config_value``. Its name is the ``table_name`` argument, else ``SOSW_CONFIG_TABLE``, else
``config`` (``autotest_config`` in test mode).

.. code-block:: python

    from sosw.components.config import get_config, update_config

    update_config('my_function_config', {'batch_size': 10})
    get_config('my_function_config')   # {'batch_size': 10}
"""

import json
import logging
import os
from typing import Any, Dict, List, Optional

from sosw import constants
from sosw.components._boto import make_client
from sosw.exceptions import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "ConfigSource", "DynamoConfig", "SSMConfig", "SecretsManager",
    "get_config", "update_config", "get_credentials_by_prefix", "get_secrets_credentials",
]


def parse_config_value(name: str, value: Any) -> Any:
    """Decode a stored config value. JSON objects and arrays must be valid; other text is returned as it is.

    :param name: Config name, for the error message.
    :param value: The stored value.
    :raises ConfigError: The value looks like a JSON object or array but is not valid JSON.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return json.loads(text)
    except ValueError as err:
        if text[:1] in ("{", "["):
            raise ConfigError(f"config_value is not valid JSON ({err})", config_name=name) from err
        return value


def _is_test(test: Optional[bool]) -> bool:
    return bool(test) or os.environ.get(constants.ENV_STAGE) in constants.TEST_STAGES


class _Source:
    """A config source on one AWS service, whose client is created on first use unless one is given."""

    SERVICE = ""

    def __init__(self, test: bool = False, client: Any = None):
        self.test = _is_test(test)
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.SERVICE)
        return self._client


class DynamoConfig(_Source):
    """Configs kept in a DynamoDB table, one row a config.

    :param test: Use the ``autotest_config`` table.
    :param table_name: Table name; beats ``SOSW_CONFIG_TABLE`` and the default ``config``.
    :param env: Value of the ``env`` hash key; beats ``SOSW_CONFIG_ENV`` and the default ``production``.
    :param client: A boto3 DynamoDB client to use instead of a new one.
    """

    SERVICE = "dynamodb"

    def __init__(self, test: bool = False, table_name: Optional[str] = None, env: Optional[str] = None,
                 client: Any = None, **kwargs):
        super().__init__(test, client)
        default = constants.AUTOTEST_CONFIG_TABLE if self.test else constants.DEFAULT_CONFIG_TABLE
        self.table_name = table_name or os.environ.get(constants.ENV_CONFIG_TABLE) or default
        self.env = env or os.environ.get(constants.ENV_CONFIG_ENV) or constants.DEFAULT_CONFIG_ENV

    def get_config(self, name: str, env: Optional[str] = None) -> Any:
        """Return the decoded ``config_value`` of row ``name``, or ``{}`` if there is none.

        :raises ConfigError: The stored value is malformed JSON.
        """
        try:
            response = self.client.get_item(
                TableName=self.table_name,
                Key={"env": {"S": env or self.env}, "config_name": {"S": name}},
                ConsistentRead=True,
            )
        except self.client.exceptions.ResourceNotFoundException:
            raise ConfigError(f"config table {self.table_name!r} does not exist (set {constants.ENV_CONFIG_TABLE} "
                              f"or deploy it)", config_name=name) from None
        item = response.get("Item")
        if not item or "config_value" not in item:
            return {}
        return parse_config_value(name, item["config_value"].get("S"))

    def update_config(self, name: str, val: Any, env: Optional[str] = None) -> None:
        """Write row ``name``; dicts and lists are stored as JSON text."""
        value = val if isinstance(val, str) else json.dumps(val)
        self.client.put_item(
            TableName=self.table_name,
            Item={"env": {"S": env or self.env}, "config_name": {"S": name}, "config_value": {"S": value}},
        )

    def get_credentials_by_prefix(self, prefix: str, env: Optional[str] = None) -> Dict[str, Any]:
        """Every row whose name starts with ``prefix`` (an ``_`` is added if missing), keyed by the rest of the name.

        ``get_credentials_by_prefix('twitter')`` with rows ``twitter_key``, ``twitter_secret`` ->
        ``{'key': ..., 'secret': ...}``.
        """
        prefix = prefix if prefix.endswith("_") else f"{prefix}_"
        paginator = self.client.get_paginator("query")
        result = {}
        for page in paginator.paginate(
            TableName=self.table_name,
            KeyConditionExpression="#env = :env AND begins_with(#name, :prefix)",
            ExpressionAttributeNames={"#env": "env", "#name": "config_name"},
            ExpressionAttributeValues={":env": {"S": env or self.env}, ":prefix": {"S": prefix}},
            ConsistentRead=True,
        ):
            for item in page.get("Items", []):
                name = item["config_name"]["S"]
                # Credentials stay text: a numeric-looking secret must not become an int.
                result[name[len(prefix):]] = item.get("config_value", {}).get("S")
        return result


class SSMConfig(_Source):
    """Configs kept in SSM Parameter Store, one JSON parameter a config. SSM throttles early: prefer DynamoConfig.

    :param test: Accepted for symmetry with :class:`DynamoConfig`.
    :param client: A boto3 SSM client to use instead of a new one.
    """

    SERVICE = "ssm"

    def __init__(self, test: bool = False, client: Any = None, **kwargs):
        super().__init__(test, client)

    def get_config(self, name: str) -> Any:
        """Return the decoded parameter ``name``, or ``{}`` if there is none."""
        try:
            response = self.client.get_parameter(Name=name, WithDecryption=True)
        except self.client.exceptions.ParameterNotFound:
            return {}
        return parse_config_value(name, response["Parameter"]["Value"])

    def update_config(self, name: str, val: Any) -> None:
        """Write parameter ``name`` (overwriting); dicts and lists are stored as JSON text."""
        value = val if isinstance(val, str) else json.dumps(val)
        self.client.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)

    def get_credentials_by_prefix(self, prefix: str) -> Dict[str, Any]:
        """Every parameter whose name starts with ``prefix``, keyed by the rest of the name, values decrypted."""
        prefix = prefix if prefix.endswith("_") else f"{prefix}_"
        names: List[str] = []
        # The paginator stops when NextToken is absent, unlike a hand-written loop that kept asking forever.
        paginator = self.client.get_paginator("describe_parameters")
        for page in paginator.paginate(ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": [prefix]}]):
            names.extend(p["Name"] for p in page.get("Parameters", []))
        result = {}
        for start in range(0, len(names), 10):  # GetParameters takes at most 10 names
            response = self.client.get_parameters(Names=names[start:start + 10], WithDecryption=True)
            for param in response.get("Parameters", []):
                result[param["Name"][len(prefix):]] = param["Value"]
        return result


class SecretsManager(_Source):
    """Credentials kept in AWS Secrets Manager.

    :param client: A boto3 Secrets Manager client to use instead of a new one.
    """

    SERVICE = "secretsmanager"

    def __init__(self, test: bool = False, client: Any = None, **kwargs):
        super().__init__(test, client)

    def get_secrets_credentials(self, type: str = "name", value: Optional[str] = None) -> Dict[str, Any]:
        """Secrets by name, or every secret carrying a tag value.

        :param type: ``'name'`` (``value`` is the secret id) or ``'tag'`` (``value`` is a tag value).
        :param value: Secret name or tag value.
        :return: For a name, the decoded secret; for a tag, ``{secret_name: decoded secret}``.
        """
        if not value:
            raise ConfigError("value: a secret name or tag value is required", config_name="secrets")
        if type == "name":
            secret = self.client.get_secret_value(SecretId=value)["SecretString"]
            return parse_config_value(value, secret)
        if type != "tag":
            raise ConfigError(f"type: expected 'name' or 'tag', got {type!r}", config_name="secrets")
        result = {}
        paginator = self.client.get_paginator("list_secrets")
        for page in paginator.paginate(Filters=[{"Key": "tag-value", "Values": [value]}]):
            for entry in page.get("SecretList", []):
                secret = self.client.get_secret_value(SecretId=entry["ARN"])["SecretString"]
                result[entry["Name"]] = parse_config_value(entry["Name"], secret)
        return result


class ConfigSource:
    """A strategy adapter: returns configs from the selected source.

    :param test: Test mode (``autotest_config`` table).
    :param sources: ``'Dynamo'`` (default), ``'SSM'`` or both comma-separated; the first is the default.
    :param config: Configs of the sources: ``{'dynamo_config': {...}, 'ssm_config': {...}}`` passed as keyword
        arguments to :class:`DynamoConfig` / :class:`SSMConfig`.

    .. code-block:: python

        source = ConfigSource(sources='Dynamo,SSM')
        source.get_config('sosw_orchestrator_config')
        source.ssm_config.get_config('legacy_config')
    """

    SOURCES = {"dynamo": ("dynamo_config", DynamoConfig), "ssm": ("ssm_config", SSMConfig)}

    def __init__(self, test: bool = False, sources: Optional[str] = None, config: Optional[Dict] = None):
        self.test = _is_test(test)
        config = config or {}
        names = [s.strip().lower() for s in (sources or "Dynamo").split(",") if s.strip()]
        unknown = [s for s in names if s not in self.SOURCES]
        if unknown or not names:
            raise ConfigError(f"sources: unsupported {unknown or sources!r}; use 'Dynamo', 'SSM' or both",
                              config_name="sources")
        self.default_source: Any = None
        for name in names:
            attr, cls = self.SOURCES[name]
            source = cls(test=self.test, **config.get(attr, {}))
            setattr(self, attr, source)
            if self.default_source is None:
                self.default_source = source
        self.secrets_manager = SecretsManager(test=self.test)

    def get_config(self, name: str) -> Any:
        return self.default_source.get_config(name)

    def update_config(self, name: str, val: Any) -> None:
        return self.default_source.update_config(name, val)

    def get_credentials_by_prefix(self, prefix: str) -> Dict[str, Any]:
        return self.default_source.get_credentials_by_prefix(prefix)

    def get_secrets_credentials(self, **kwargs) -> Dict[str, Any]:
        return self.secrets_manager.get_secrets_credentials(**kwargs)


_SOURCES: Dict[tuple, ConfigSource] = {}


def _source(test: bool) -> ConfigSource:
    test = _is_test(test)
    # Rebuilt when the table or env variables change, so that tests and tools switching them see the new table.
    key = (test, os.environ.get(constants.ENV_CONFIG_TABLE), os.environ.get(constants.ENV_CONFIG_ENV),
           os.environ.get("AWS_ENDPOINT_URL"))
    source = _SOURCES.get(key)
    if source is None:
        source = _SOURCES[key] = ConfigSource(test=test)
    return source


def get_config(name: str, test: bool = False) -> Any:
    """Config ``name`` from the default source (DynamoDB): decoded JSON, or ``{}`` if there is none."""
    return _source(test).get_config(name)


def update_config(name: str, val: Any, test: bool = False) -> None:
    """Write config ``name`` to the default source."""
    return _source(test).update_config(name, val)


def get_credentials_by_prefix(prefix: str, test: bool = False) -> Dict[str, Any]:
    """Configs whose names start with ``prefix``, keyed by the rest of the name."""
    return _source(test).get_credentials_by_prefix(prefix)


def get_secrets_credentials(**kwargs) -> Dict[str, Any]:
    """Secrets from AWS Secrets Manager: ``get_secrets_credentials(type='name', value='my_secret')``."""
    test = kwargs.pop("test", False)
    return _source(test).get_secrets_credentials(**kwargs)
