"""
Config sources: a DynamoDB table (the default), SSM Parameter Store and Secrets Manager.

A Processor assembles its config from ``<AWS_LAMBDA_FUNCTION_NAME>_config`` through :func:`get_config`. The DynamoDB
table has hash key ``env`` (``production`` unless ``SOSW_CONFIG_ENV`` says otherwise), range key ``config_name`` and
the JSON text in ``config_value``. Its name is the ``table_name`` argument, else ``SOSW_CONFIG_TABLE``, else
``config`` (``autotest_config`` in test mode). A missing table, or no permission to read it, reads as ``{}`` (and a
warning in the log), as in the original: a Processor then runs on its ``DEFAULT_CONFIG``.

The module-level functions use a :class:`ConfigSource` built from the classes this module holds *when called*:
tests that patch ``sosw.components.config.DynamoConfig`` or ``SSMConfig`` get their mock.

.. code-block:: python

    from sosw.components.config import get_config, update_config

    update_config('my_function_config', {'batch_size': 10})
    get_config('my_function_config')   # {'batch_size': 10}
"""

import json
import logging
import os
from typing import Any, Callable, Dict, List, Optional

from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from sosw import constants
from sosw.components._boto import make_client
from sosw.components.dynamo_db import DynamoDbClient
from sosw.exceptions import ConfigError, InvalidChoice, UnsupportedSetting

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


#: Error codes that mean "this source is not there for us", not a failure of the request.
_NO_ACCESS_CODES = frozenset({
    "ResourceNotFoundException", "AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
})


def _no_access(err: Exception) -> bool:
    """Whether ``err`` says the table is missing or not ours to read (then the config reads as ``{}``)."""
    if isinstance(err, (NoCredentialsError, NoRegionError)):
        return True
    return isinstance(err, ClientError) and err.response.get("Error", {}).get("Code") in _NO_ACCESS_CODES


def _all_pages(client: Any, operation: str, kwargs: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Every response page of ``client.<operation>(**kwargs)``, with botocore's paginator when there is one.

    Otherwise each page's own ``NextToken`` is followed until a page has none: the original sent the first token
    again and again, and never stopped.
    """
    if client.can_paginate(operation):
        return list(client.get_paginator(operation).paginate(**kwargs))
    call: Callable[..., Dict[str, Any]] = getattr(client, operation)
    pages = [call(**kwargs)]
    while pages[-1].get("NextToken"):
        pages.append(call(**{**kwargs, "NextToken": pages[-1]["NextToken"]}))
    return pages


def _json_text(val: Any) -> str:
    return val if isinstance(val, str) else json.dumps(val)


class DynamoConfig:
    """Configs kept in a DynamoDB table, one row a config, read and written through a sosw ``DynamoDbClient``.

    The table is the ``table_name`` argument, else ``config['table_name']`` (or the original's
    ``config['dynamo_client_config']['table_name']``), else ``SOSW_CONFIG_TABLE``, else ``config``
    (``autotest_config`` in test mode). The ``env`` hash key likewise: argument, ``config['env']``,
    ``SOSW_CONFIG_ENV``, ``production``.

    :param test: Test mode (also when ``STAGE`` is ``test`` or ``autotest``): the ``autotest_config`` table.
    :param table_name: Table name.
    :param env: Value of the ``env`` hash key.
    :param client: A boto3 DynamoDB client for the ``DynamoDbClient`` to use instead of a new one.
    :param config: Settings as above, as ``ConfigSource(config={'dynamo_config': {...}})`` passes them.

    .. code-block:: python

        source = DynamoConfig(table_name='my_config')
        source.update_config('my_function_config', {'batch_size': 10})
        source.get_config('my_function_config')  # {'batch_size': 10}
    """

    #: The ``DynamoDbClient`` of the config table, created when first needed. Assignable, e.g. a mock in tests.
    dynamo_client: Any = None
    #: ``True`` when the last read found no config table or no permission to read it (and returned ``{}``),
    #: ``False`` after a read that reached the table. The next read tries again: a table created since is seen.
    no_ddb_access: Optional[bool] = None

    def __init__(self, test: bool = False, table_name: Optional[str] = None, env: Optional[str] = None,
                 client: Any = None, config: Optional[Dict] = None, **kwargs: Any):
        self.test = _is_test(test)
        settings = dict(config or {})
        client_config = dict(settings.get("dynamo_client_config") or {})
        default = constants.AUTOTEST_CONFIG_TABLE if self.test else constants.DEFAULT_CONFIG_TABLE
        self.table_name: str = (table_name or settings.get("table_name") or client_config.get("table_name")
                                or os.environ.get(constants.ENV_CONFIG_TABLE) or default)
        self.env: str = env or settings.get("env") or os.environ.get(constants.ENV_CONFIG_ENV) \
            or constants.DEFAULT_CONFIG_ENV
        self.config: Dict[str, Any] = {"dynamo_client_config": {
            "row_mapper": {"env": "S", "config_name": "S", "config_value": "S"},
            "required_fields": ["env", "config_name", "config_value"],
            **client_config,
            "table_name": self.table_name,
            "dont_json_loads_results": True,  # config values are decoded here, by parse_config_value
        }}
        self._boto3_client = client or settings.get("client")

    def _get_dynamo_client(self) -> Any:
        if self.dynamo_client is None:
            self.dynamo_client = DynamoDbClient(config=self.config["dynamo_client_config"], client=self._boto3_client,
                                                test=self.test)
        return self.dynamo_client

    def _query(self, what: str, **kwargs: Any) -> Optional[List[Dict[str, Any]]]:
        """Items of a query on the config table, or ``None`` when the table is missing or not ours to read."""
        try:
            items = self._get_dynamo_client().get_by_query(**kwargs)
        except Exception as err:
            if not _no_access(err):
                raise
            self.no_ddb_access = True
            logger.warning("config table %r not readable (%s): %s reads as empty", self.table_name,
                           type(err).__name__, what)
            return None
        self.no_ddb_access = False
        return items

    def get_config(self, name: str, env: Optional[str] = None) -> Any:
        """The decoded ``config_value`` of row ``name``: a dict for a JSON object, else the value itself.

        :param name: ``config_name`` of the row.
        :param env: ``env`` of the row; this source's ``env`` if omitted.
        :return: ``{}`` when there is no such row, or no table (or no permission to read it; see
            :attr:`no_ddb_access`).
        :raises ConfigError: The stored value is malformed JSON.
        """
        # Consistent: a config written a moment ago (``sosw config``, a test) must be the one read.
        items = self._query(name, keys={"env": env or self.env, "config_name": name}, consistent_read=True)
        value = items[0].get("config_value") if items else None
        return {} if value is None else parse_config_value(name, value)

    def update_config(self, name: str, val: Any, env: Optional[str] = None, **kwargs: Any) -> None:
        """Write row ``name``; dicts and lists are stored as JSON text.

        :param name: ``config_name`` of the row.
        :param val: The value.
        :param env: ``env`` of the row; this source's ``env`` if omitted.
        """
        self._get_dynamo_client().update(keys={"env": env or self.env, "config_name": name},
                                         attributes_to_update={"config_value": _json_text(val)})

    def get_credentials_by_prefix(self, prefix: str, env: Optional[str] = None) -> Dict[str, Any]:
        """Every row whose name starts with ``prefix`` (an ``_`` is added if missing), keyed by the rest of the name.

        ``get_credentials_by_prefix('twitter')`` with rows ``twitter_key``, ``twitter_secret`` ->
        ``{'key': ..., 'secret': ...}``. Values stay text: a numeric-looking secret must not become an int.

        :param prefix: Start of the names.
        :param env: ``env`` of the rows; this source's ``env`` if omitted.
        """
        prefix = prefix if prefix.endswith("_") else f"{prefix}_"
        items = self._query(f"credentials {prefix}*", keys={"env": env or self.env, "config_name": prefix},
                            comparisons={"config_name": "begins_with"}, consistent_read=True)
        return {item["config_name"][len(prefix):]: item.get("config_value") for item in items or []}


class SSMConfig:
    """Configs kept in SSM Parameter Store, one JSON parameter a config. SSM throttles early: prefer DynamoConfig.

    :param test: Accepted for symmetry with :class:`DynamoConfig`.
    :param client: A boto3 SSM client to use instead of a new one.

    .. code-block:: python

        ssm = SSMConfig()
        ssm.update_config('legacy_config', {'batch_size': 10})
        ssm.get_config('legacy_config')  # {'batch_size': 10}
    """

    #: The boto3 SSM client, created when first needed. Assignable, e.g. a mock in tests.
    ssm_client: Any = None

    def __init__(self, test: bool = False, client: Any = None, **kwargs: Any):
        self.test = _is_test(test)
        if client is not None:
            self.ssm_client = client

    def _get_ssm_client(self) -> Any:
        if self.ssm_client is None:
            self.ssm_client = make_client("ssm")
        return self.ssm_client

    def call_boto_with_pagination(self, f: str, **kwargs: Any) -> List[Dict[str, Any]]:
        """Every response page of the SSM operation ``f`` called with ``kwargs``.

        :param f: Name of the client method, e.g. ``'describe_parameters'``.
        :return: The responses, one per page; the last has no ``NextToken``.

        .. code-block:: python

            pages = ssm.call_boto_with_pagination('describe_parameters', MaxResults=50)
        """
        return _all_pages(self._get_ssm_client(), f, kwargs)

    def get_config(self, name: str) -> Any:
        """The decoded parameter ``name`` (decrypted), or ``{}`` if there is none.

        :raises ConfigError: The stored value is malformed JSON.
        """
        response = self._get_ssm_client().get_parameters(Names=[name], WithDecryption=True)
        parameters = response.get("Parameters") or []
        return parse_config_value(name, parameters[0]["Value"]) if parameters else {}

    def update_config(self, name: str, val: Any, **kwargs: Any) -> None:
        """Write parameter ``name`` (overwriting); dicts and lists are stored as JSON text.

        :param name: Parameter name.
        :param val: The value.
        :param kwargs: ``description``, and ``param_type`` (``'String'`` by default, ``'StringList'`` or
            ``'SecureString'``).
        """
        param_type = kwargs.get("param_type")
        extra = {"Description": kwargs["description"]} if isinstance(kwargs.get("description"), str) else {}
        self._get_ssm_client().put_parameter(
            Name=name, Value=_json_text(val), Overwrite=True,
            Type=param_type if param_type in ("String", "StringList", "SecureString") else "String", **extra,
        )

    def get_credentials_by_prefix(self, prefix: str) -> Dict[str, Any]:
        """Every parameter whose name starts with ``prefix``, keyed by the rest of the name, values decrypted."""
        prefix = prefix if prefix.endswith("_") else f"{prefix}_"
        pages = self.call_boto_with_pagination(
            "describe_parameters", ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": [prefix]}])
        names = [p["Name"] for page in pages for p in page.get("Parameters", [])]
        result = {}
        for start in range(0, len(names), 10):  # GetParameters takes at most 10 names
            for page in self.call_boto_with_pagination("get_parameters", Names=names[start:start + 10],
                                                       WithDecryption=True):
                for param in page.get("Parameters", []):
                    result[param["Name"][len(prefix):]] = param["Value"]
        return result


class SecretsManager:
    """Credentials kept in AWS Secrets Manager.

    :param test: Accepted for symmetry with :class:`DynamoConfig`.
    :param client: A boto3 Secrets Manager client to use instead of a new one.

    .. code-block:: python

        SecretsManager().get_secrets_credentials(type='name', value='db_password')  # {'db_password': 'pw'}
    """

    #: The boto3 Secrets Manager client, created when first needed. Assignable, e.g. a mock in tests.
    secretsmanager_client: Any = None

    def __init__(self, test: bool = False, client: Any = None, **kwargs: Any):
        self.test = _is_test(test)
        if client is not None:
            self.secretsmanager_client = client

    def _get_secretsmanager_client(self) -> Any:
        if self.secretsmanager_client is None:
            self.secretsmanager_client = make_client("secretsmanager")
        return self.secretsmanager_client

    def call_boto_secrets_with_pagination(self, f: str, **kwargs: Any) -> List[Dict[str, Any]]:
        """Every response page of the Secrets Manager operation ``f`` called with ``kwargs``.

        :param f: Name of the client method, e.g. ``'list_secrets'``.
        :return: The responses, one per page; the last has no ``NextToken``.

        .. code-block:: python

            pages = secrets.call_boto_secrets_with_pagination('list_secrets', Filters=[...])
        """
        return _all_pages(self._get_secretsmanager_client(), f, kwargs)

    def get_secrets_credentials(self, type: Optional[str] = None, value: Optional[str] = None,
                                **kwargs: Any) -> Dict[str, str]:
        """The secrets found by name or by tag value, as ``{secret name: SecretString}``.

        Secrets Manager's ``name`` filter matches names that start with ``value``; ``tag`` matches any tag whose
        value is ``value``. The values are returned as stored (text) and never logged.

        :param type: ``'name'`` or ``'tag'``.
        :param value: The name or tag value to look for.
        :return: ``{}`` when nothing matches.
        :raises InvalidChoice: (a ``KeyError``) ``type`` or ``value`` is missing or invalid.

        .. code-block:: python

            get_secrets_credentials(type='tag', value='project_a')  # {'project_a_db': '{"user": ...}', ...}
        """
        if type not in ("name", "tag"):
            raise InvalidChoice(f"expected 'name' or 'tag', got {type!r}", field="type", value=type)
        if not value:
            raise InvalidChoice("a secret name or tag value is required", field="value", value=value)
        filters = [{"Key": "name" if type == "name" else "tag-value", "Values": [value]}]
        pages = self.call_boto_secrets_with_pagination("list_secrets", Filters=filters)
        client = self._get_secretsmanager_client()
        result = {}
        for page in pages:
            for secret in page.get("SecretList", []):
                result[secret["Name"]] = client.get_secret_value(SecretId=secret["ARN"])["SecretString"]
        if not result:
            logger.warning("no secret found in Secrets Manager with %s %r", type, value)
        return result


class ConfigSource:
    """A strategy adapter: returns configs from the selected source.

    The source classes are looked up in this module when the ``ConfigSource`` is created, so a test that patches
    ``sosw.components.config.DynamoConfig`` gets its mock.

    :param test: Test mode (``autotest_config`` table).
    :param sources: ``'Dynamo'`` (default), ``'SSM'`` or both comma-separated; the first is the default.
    :param config: Configs of the sources: ``{'dynamo_config': {...}, 'ssm_config': {...}}``, each passed as
        ``config`` to :class:`DynamoConfig` / :class:`SSMConfig`.
    :raises UnsupportedSetting: (an ``AssertionError``) A source is none of :attr:`SUPPORTED_SOURCES`.

    .. code-block:: python

        source = ConfigSource(sources='Dynamo,SSM')
        source.get_config('sosw_orchestrator_config')
        source.ssm_config.get_config('legacy_config')
    """

    #: Names accepted in ``sources`` (case does not matter).
    SUPPORTED_SOURCES = ("Dynamo", "SSM")

    def __init__(self, test: bool = False, sources: Optional[str] = None, config: Optional[Dict] = None,
                 **kwargs: Any):
        self.test = _is_test(test)
        self.config: Dict[str, Any] = dict(config or {})
        if not isinstance(sources, (str, type(None))):
            raise UnsupportedSetting(f"expected comma-separated names of {self.SUPPORTED_SOURCES}, got {sources!r}",
                                    config_name="sources")
        names = [s.strip() for s in (sources or "Dynamo").split(",") if s.strip()]
        canonical = {s.lower(): s for s in self.SUPPORTED_SOURCES}
        unknown = [s for s in names if s.lower() not in canonical]
        if unknown or not names:
            raise UnsupportedSetting(f"unsupported {unknown or sources!r}; use one or more of {self.SUPPORTED_SOURCES}",
                                    config_name="sources")
        self.default_source: Any = None
        for name in (canonical[s.lower()] for s in names):
            attr = f"{name.lower()}_config"
            # Looked up now, not bound at import: users' tests patch these names.
            source = globals()[f"{name}Config"](config=self.config.get(attr, {}), test=self.test, **kwargs)
            setattr(self, attr, source)
            if self.default_source is None:
                self.default_source = source
        self.secrets_manager = SecretsManager(test=self.test)

    def get_config(self, name: str, **kwargs: Any) -> Any:
        """Config ``name`` from the default source; ``{}`` if there is none."""
        return self.default_source.get_config(name, **kwargs)

    def update_config(self, name: str, val: Any, **kwargs: Any) -> None:
        """Write config ``name`` to the default source."""
        return self.default_source.update_config(name, val, **kwargs)

    def get_credentials_by_prefix(self, prefix: str, **kwargs: Any) -> Dict[str, Any]:
        """Configs of the default source whose names start with ``prefix``, keyed by the rest of the name."""
        return self.default_source.get_credentials_by_prefix(prefix, **kwargs)

    def get_secrets_credentials(self, **kwargs: Any) -> Dict[str, str]:
        """Secrets by name or tag: see :meth:`SecretsManager.get_secrets_credentials`."""
        return self.secrets_manager.get_secrets_credentials(**kwargs)


_SOURCES: Dict[tuple, ConfigSource] = {}


def _source(test: bool) -> ConfigSource:
    test = _is_test(test)
    # Rebuilt when the table or env variables change, so that tests and tools switching them see the new table, and
    # when a test patched one of the source classes.
    key = (test, os.environ.get(constants.ENV_CONFIG_TABLE), os.environ.get(constants.ENV_CONFIG_ENV),
           os.environ.get("AWS_ENDPOINT_URL"), DynamoConfig, SSMConfig, SecretsManager)
    source = _SOURCES.get(key)
    if source is None:
        source = _SOURCES[key] = ConfigSource(test=test)
    return source


def get_config(name: str, test: bool = False, **kwargs: Any) -> Any:
    """Config ``name`` from the default source (DynamoDB): decoded JSON, or ``{}`` if there is none (or no table).

    :param name: Config name.
    :param test: Test mode (``autotest_config`` table).
    :param kwargs: Passed to the source, e.g. ``env='dev'``.
    """
    return _source(test).get_config(name, **kwargs)


def update_config(name: str, val: Any, test: bool = False, **kwargs: Any) -> None:
    """Write config ``name`` to the default source."""
    return _source(test).update_config(name, val, **kwargs)


def get_credentials_by_prefix(prefix: str, test: bool = False, **kwargs: Any) -> Dict[str, Any]:
    """Configs whose names start with ``prefix``, keyed by the rest of the name."""
    return _source(test).get_credentials_by_prefix(prefix, **kwargs)


def get_secrets_credentials(**kwargs: Any) -> Dict[str, str]:
    """Secrets from AWS Secrets Manager: ``get_secrets_credentials(type='name', value='my_secret')`` ->
    ``{'my_secret': <SecretString>}``."""
    test = kwargs.pop("test", False)
    return _source(test).get_secrets_credentials(**kwargs)
