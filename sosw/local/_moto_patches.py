"""
Every change sosw makes to moto's internals, in one place, so that moto's server behaves like AWS where sosw needs it
to. :func:`apply` makes them in the server process (see ``sosw.local._moto_main``); ``tests/unit/test_moto_patches.py``
pins the moto behaviour each relies on, so that a moto upgrade that changes it fails there.

- Atomicity: a TransactWriteItems that fails restores a snapshot of the tables taken when it started, wiping out
  what other requests wrote meanwhile (two Orchestrators at once lost tasks that way). DynamoDB requests are
  served one at a time here, so each request is atomic, as it is on DynamoDB; Essentials still interleave
  between requests.
- Speed and memory: TransactWriteItems deep-copies a whole table once per *action* as its snapshot, to restore it
  if the transaction fails: a 100-action transaction on a table of a few thousand items takes seconds, and the
  copies are never freed (moto's ``BaseModel`` keeps every instance ever made in ``instances_tracked``; a
  1,000-task chaos run grew the server to 8.6 GB). Here a transaction saves the items its actions name, before any
  of them runs, and a failed one puts exactly those back (the same outcome: a transaction changes only the items
  it names); and DynamoDB's models are not tracked (moto reads that list only for its debug dashboard).
- Fidelity: CloudFormation's UpdateStack with the template and parameters the stack already has fails with
  "No updates are to be performed.", as on AWS (moto reports a successful update instead).
- Fidelity: moto's CloudFormation skips ``AWS::Lambda::EventInvokeConfig``; here a stack puts (updates, deletes) the
  function's EventInvokeConfig in moto's Lambda, where the local Lambda service reads it. Reading it there, rather
  than from the templates at ``sosw deploy`` time, works whoever deployed the stack and however (``sosw deploy``
  from another shell, ``examples/deploy.py``, a user's own CloudFormation call), and goes away with the stack.
- Fidelity: PutFunctionEventInvokeConfig replaces the configuration, as on AWS (moto keeps the first one).
"""

import copy
import functools
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from moto.awslambda import models as lambda_models
from moto.awslambda.exceptions import UnknownEventConfig, UnknownFunctionException
from moto.cloudformation import models as cloudformation_models
from moto.cloudformation import parsing as cloudformation_parsing
from moto.cloudformation.exceptions import ValidationError
from moto.core.base_backend import model_data
from moto.core.common_models import BaseModel
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.responses import DynamoHandler

from sosw.local import _moto_limits

#: Sets an attribute: ``setattr`` in the server; a test passes ``monkeypatch.setattr``, which undoes it afterwards.
Patch = Callable[[Any, str, Any], None]

EVENT_INVOKE_CONFIG = "AWS::Lambda::EventInvokeConfig"
_EVENT_INVOKE_CONFIG_KEYS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")

_local = threading.local()
_DYNAMODB_LOCK = threading.RLock()


class _NoTableCopyInTransaction:
    """Stands for the ``copy`` module inside moto's DynamoDB models: within a transaction (whose items
    :func:`_undo_log` saved), "copying" a table gives the table itself; elsewhere it is plain ``copy``."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(obj: Any, memo: Optional[Dict[int, Any]] = None) -> Any:
        if getattr(_local, "in_transaction", False) and isinstance(obj, dynamodb_models.Table):
            return obj
        return copy.deepcopy(obj, memo)


_Saved = Tuple[Any, Any, Any, Any]  # (table, hash key, range key or None, a copy of the item or None)


def _undo_log(backend: Any, transact_items: List[Dict[str, Any]]) -> List[_Saved]:
    """A copy of each item the transaction's actions name, as it is before any of them runs (None: absent)."""
    saved: List[_Saved] = []
    for action in transact_items:
        if not isinstance(action, dict) or len(action) != 1:
            continue  # moto refuses it before changing anything
        op = next(iter(action.values()))
        table: Any = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        if table is None:
            continue
        attributes = op.get("Key") or op.get("Item")
        if not isinstance(attributes, dict) or table.hash_key_attr not in attributes:
            continue
        try:
            hash_key = DynamoType(attributes[table.hash_key_attr])
            range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
        except (KeyError, TypeError, AttributeError):
            continue  # a malformed key: moto refuses the action before writing it
        saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
    return saved


def _undo(saved: List[_Saved]) -> None:
    """Put back the items :func:`_undo_log` saved (the earliest copy of an item wins)."""
    for table, hash_key, range_key, item in reversed(saved):
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
        elif item is None:
            table.items.get(hash_key, {}).pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item


def _undo_failed_transactions_item_by_item(patch: Patch) -> None:
    original = dynamodb_models.DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: Any) -> Any:
        saved = _undo_log(self, transact_items) if isinstance(transact_items, list) else []
        _local.in_transaction = True
        try:
            return original(self, transact_items)
        except Exception:
            _undo(saved)
            raise
        finally:
            _local.in_transaction = False

    patch(dynamodb_models, "copy", _NoTableCopyInTransaction())
    patch(dynamodb_models.DynamoDBBackend, "transact_write_items", transact_write_items)


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    return object.__new__(cls)


def _stop_tracking_dynamodb_instances(patch: Patch) -> None:
    for model in list(model_data.get("dynamodb", {}).values()):
        if model.__new__ is BaseModel.__new__:
            patch(model, "__new__", staticmethod(_untracked_new))


def _serve_dynamodb_one_request_at_a_time(patch: Patch) -> None:
    call_action = DynamoHandler.call_action

    @functools.wraps(call_action)
    def serialized_call_action(self: Any) -> Any:
        with _DYNAMODB_LOCK:
            return call_action(self)

    patch(DynamoHandler, "call_action", serialized_call_action)


def _refuse_updates_without_changes(patch: Patch) -> None:
    update_stack = cloudformation_models.CloudFormationBackend.update_stack

    @functools.wraps(update_stack)
    def update_stack_with_changes(self: Any, name: str, template: str, role_arn: Any, parameters: Any,
                                  tags: Any) -> Any:
        stack = self.get_stack(name)
        resolved = self._resolve_update_parameters(instance=stack, incoming_params=parameters)
        if template == stack.template and resolved == stack.parameters and tags in (None, getattr(stack, "tags", None)):
            raise ValidationError(message="No updates are to be performed.")
        return update_stack(self, name, template, role_arn, parameters, tags)

    patch(cloudformation_models.CloudFormationBackend, "update_stack", update_stack_with_changes)


def _replace_event_invoke_configs(patch: Patch) -> None:
    def put_function_event_invoke_config(self: Any, function_name: str, config: Dict[str, Any]) -> Dict[str, Any]:
        function = self.get_function(function_name)
        event_config = lambda_models.EventInvokeConfig(function.function_arn, function.last_modified, config)
        function.event_invoke_config = [event_config]
        return event_config.response()

    patch(lambda_models.LambdaBackend, "put_function_event_invoke_config", put_function_event_invoke_config)


class _EventInvokeConfigResource:
    """``AWS::Lambda::EventInvokeConfig`` for moto's CloudFormation: the stack keeps the function's EventInvokeConfig
    in moto's Lambda, as CloudFormation does on AWS. Its ``FunctionName`` is a name or an ARN (``!Ref`` of a
    function); the ``Qualifier`` is ignored, as moto keeps one configuration per function.

    The methods are those moto's CloudFormation calls on a resource. Not a ``CloudFormationModel``: a subclass of it
    would be found by moto (through ``__subclasses__``) wherever this module is merely imported."""

    def __init__(self, function_name: str, account_id: str, region_name: str):
        self.function_name = function_name
        self.account_id = account_id
        self.region_name = region_name

    @property
    def physical_resource_id(self) -> str:
        return self.function_name

    @staticmethod
    def is_created() -> bool:
        return True

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False  # Fn::GetAtt has nothing to read from it, as on AWS

    @staticmethod
    def _backend(account_id: str, region_name: str) -> Any:
        return lambda_models.lambda_backends[account_id][region_name]

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Dict[str, Any], account_id: str,
                                        region_name: str, **kwargs: Any) -> "_EventInvokeConfigResource":
        properties = cloudformation_json["Properties"]
        config = {key: properties[key] for key in _EVENT_INVOKE_CONFIG_KEYS if key in properties}
        cls._backend(account_id, region_name).put_function_event_invoke_config(properties["FunctionName"], config)
        return cls(properties["FunctionName"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: "_EventInvokeConfigResource", new_resource_name: str,
                                        cloudformation_json: Dict[str, Any], account_id: str,
                                        region_name: str) -> "_EventInvokeConfigResource":
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            self._backend(account_id, region_name).delete_function_event_invoke_config(self.function_name)
        except (UnknownFunctionException, UnknownEventConfig):
            pass  # the function went first, and its configuration with it


def _create_event_invoke_configs_from_stacks(patch: Patch) -> None:
    resource_class_from_type = cloudformation_parsing.resource_class_from_type

    @functools.wraps(resource_class_from_type)
    def with_event_invoke_config(resource_type: str) -> Any:
        if resource_type == EVENT_INVOKE_CONFIG:
            return _EventInvokeConfigResource
        return resource_class_from_type(resource_type)

    patch(cloudformation_parsing, "resource_class_from_type", with_event_invoke_config)


def apply(patch: Patch = setattr) -> None:
    """Make every change of this module to moto.

    :param patch: Sets an attribute; ``setattr`` by default.
    """
    _undo_failed_transactions_item_by_item(patch)
    _stop_tracking_dynamodb_instances(patch)
    _serve_dynamodb_one_request_at_a_time(patch)
    _refuse_updates_without_changes(patch)
    _replace_event_invoke_configs(patch)
    _create_event_invoke_configs_from_stacks(patch)
    _moto_limits.apply(patch)  # DynamoDB's size limits: their own module, pinned by tests/unit/test_moto_limits.py
