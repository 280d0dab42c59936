"""
Configs: the Essentials' (and a Worker's) config rows rendered for an account and region, written to the config table,
and the functions that read them recycled so that their next invocations read the new rows.
"""

import json
import os
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import boto3
from botocore.exceptions import ClientError

from sosw import constants
from sosw.components.helpers import recursive_update
from sosw.deploy.constants import ACCOUNT_PLACEHOLDER, RECYCLE_VARIABLE, REGION_PLACEHOLDER
from sosw.deploy.exceptions import DeployError, error_code, error_message
from sosw.deploy.types import Log, PathLike

__all__ = ["recycle_functions", "render_configs", "upload_configs"]

_ARN_REGION = re.compile(r"(arn:[\w-]+:[\w-]+:)" + re.escape(REGION_PLACEHOLDER) + r":")


def _substitute(text: str, account: str, region: str) -> str:
    """Replace the placeholders: the account everywhere, the region only inside ARNs."""
    return _ARN_REGION.sub(lambda m: f"{m.group(1)}{region}:", text).replace(ACCOUNT_PLACEHOLDER, account)


def _load(path: Path, account: str, region: str) -> Dict[str, Any]:
    try:
        return json.loads(_substitute(path.read_text(), account, region))
    except (OSError, ValueError) as err:
        raise DeployError(f"cannot read config {path}: {err}") from err


def render_configs(
    examples_dir: PathLike,
    account: str,
    region: str,
    worker: Optional[str] = None,
    registered_labourers: Optional[Dict[str, Any]] = None,
    worker_dir: Optional[PathLike] = None,
) -> Dict[str, Dict[str, Any]]:
    """The config rows to write, by config name: one per ``essentials/.config/*.json`` (named by the file stem) and,
    with a Worker, ``<worker>_config`` from its ``config/self.json``.

    ``task_config.labourers`` of ``sosw_essential_config`` (which every Essential reads) is
    ``registered_labourers`` ← the file's ← the Worker's ``config/labourer.json``, each a recursive update of the
    previous: registering a Worker keeps the Labourers registered before, and rendering twice gives the same rows.

    :param examples_dir: The ``examples`` directory.
    :param account: AWS account id that replaces ``000000000000``.
    :param region: Region that replaces ``us-west-2`` in ARNs.
    :param worker: A Worker folder under ``workers/``.
    :param registered_labourers: ``task_config.labourers`` of the current ``sosw_essential_config`` row.
    :param worker_dir: The Worker's folder when it is not under ``workers/`` (a project of ``sosw init``).
    :return: Config value (a dict) by config name.
    :raises DeployError: When a file is missing or no JSON.

    .. code-block:: python

        rows = render_configs("examples", account="111122223333", region="eu-central-1")
        rows["sosw_scavenger_config"]["dead_sns_topic"]  # 'arn:aws:sns:eu-central-1:111122223333:SoswWorkerErrors'
    """
    root = Path(examples_dir)
    configs = {p.stem: _load(p, account, region) for p in sorted((root / "essentials" / ".config").glob("*.json"))}
    essential = configs.setdefault(constants.ESSENTIAL_CONFIG_NAME, {})
    essential = recursive_update({"task_config": {"labourers": registered_labourers or {}}}, essential)
    if worker:
        folder = (Path(worker_dir) if worker_dir else root / "workers" / worker) / "config"
        essential = recursive_update(essential, {"task_config": _load(folder / "labourer.json", account, region)})
        configs[f"{worker}_config"] = _load(folder / "self.json", account, region)
    configs[constants.ESSENTIAL_CONFIG_NAME] = essential
    return configs


def upload_configs(
    examples_dir: PathLike,
    worker: Optional[str] = None,
    table: Optional[str] = None,
    env: Optional[str] = None,
    session: Optional[boto3.Session] = None,
    log: Log = print,
    worker_dir: Optional[PathLike] = None,
) -> Dict[str, Dict[str, Any]]:
    """Write the config rows of :func:`render_configs` to the config table, for the caller's account and region.

    Rows are ``{"env": env, "config_name": name, "config_value": <JSON text>}``. Running it twice writes the same rows.

    :param examples_dir: The ``examples`` directory.
    :param worker: A Worker folder under ``workers/`` to register as a Labourer and whose own config to write.
    :param table: The config table; else ``$SOSW_CONFIG_TABLE``, else ``config``.
    :param env: Value of the ``env`` key; else ``$SOSW_CONFIG_ENV``, else ``production``.
    :param session: The boto3 session; the default one when ``None``.
    :param log: Receives one line per row.
    :param worker_dir: The Worker's folder when it is not under ``workers/`` (a project of ``sosw init``).
    :return: Config value by config name, as written.
    :raises DeployError: When no region is configured or a file is unreadable.

    .. code-block:: python

        rows = upload_configs("examples", worker="sosw_tutorial_pull_tweeter_hashtags")
        rows["sosw_essential_config"]["task_config"]["labourers"]
    """
    session = session or boto3.Session()
    if not session.region_name:
        raise DeployError("no AWS region configured (set AWS_DEFAULT_REGION or a profile region)")
    table = table or os.environ.get(constants.ENV_CONFIG_TABLE) or constants.DEFAULT_CONFIG_TABLE
    env = env or os.environ.get(constants.ENV_CONFIG_ENV) or constants.DEFAULT_CONFIG_ENV
    account = session.client("sts").get_caller_identity()["Account"]
    dynamodb = session.client("dynamodb")

    key: Dict[str, Any] = {"env": {"S": env}, "config_name": {"S": constants.ESSENTIAL_CONFIG_NAME}}
    try:
        current = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    except ClientError as err:
        raise DeployError(f"cannot read the config table {table}: {error_message(err)}") from err
    registered = json.loads(current["config_value"]["S"]).get("task_config", {}).get("labourers") if current else None

    configs = render_configs(examples_dir, account, session.region_name, worker, registered, worker_dir)
    for name, value in configs.items():
        item: Dict[str, Any] = {"env": {"S": env}, "config_name": {"S": name}, "config_value": {"S": json.dumps(value)}}
        dynamodb.put_item(TableName=table, Item=item)
        log(f"{table}: {env}/{name} written")
    return configs


def recycle_functions(
    functions: Sequence[str], session: Optional[boto3.Session] = None, log: Log = print, lambda_client: Any = None
) -> List[str]:
    """Make the functions start fresh containers, so that they read their config rows again.

    A Processor reads its config once per container, and Lambda offers no restart: changing an environment variable
    (:data:`~sosw.deploy.constants.RECYCLE_VARIABLE`, set to the current time) is the cheapest configuration change
    that retires the warm containers. Functions that do not exist are skipped.

    :param functions: Function names.
    :param session: The boto3 session; the default one when ``None``.
    :param log: Receives one line per recycled function.
    :param lambda_client: The Lambda client to use; one of ``session`` by default.
    :return: The functions recycled.
    :raises DeployError: When Lambda rejects the update.

    .. code-block:: python

        recycle_functions(["sosw_orchestrator", "sosw_scavenger"])
    """
    lambda_client = lambda_client or (session or boto3.Session()).client("lambda")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    recycled = []
    for name in functions:
        try:
            current = lambda_client.get_function_configuration(FunctionName=name)
            variables = {**current.get("Environment", {}).get("Variables", {}), RECYCLE_VARIABLE: stamp}
            lambda_client.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
        except ClientError as err:
            if error_code(err) == "ResourceNotFoundException":
                continue
            raise DeployError(f"cannot recycle function {name}: {error_message(err)}") from err
        recycled.append(name)
        log(f"{name}: recycled, new containers read the config again")
    return recycled
