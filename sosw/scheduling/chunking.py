"""
Job schemas and the chunking of a job into task payloads: pure functions of the job, the schema and (for dates) a
function that expands a ``period``; no AWS, no state.

A job schema names the attributes that may be chunked, singular, outermost first. A job holds their values under the
plural name and says how to chunk them with ``isolate_<attr>s`` / ``max_<attr>s_per_batch`` flags:

.. code-block:: python

    from sosw.scheduling.chunking import Chunker, JobSchema

    schema = JobSchema.from_config({'chunkable_attrs': ['topic', 'word']}, 'job_schema')
    Chunker(schema.chunkable_attrs).chunk_job({'topics': {'cars': {'words': ['toyota', 'mazda']}},
                                               'isolate_words': True})
    # [{'isolate_words': True, 'topics': ['cars'], 'words': ['toyota']},
    #  {'isolate_words': True, 'topics': ['cars'], 'words': ['mazda']}]
"""

import copy
import dataclasses
import re
from typing import Any, Callable, Collection, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from sosw.components.helpers import chunks, to_bool
from sosw.exceptions import InvalidJob, SchedulerConfigError
from sosw.scheduling.periods import validate_dates

__all__ = ["CONTROL_KEYS", "Chunker", "JobSchema", "chunk_dates", "clean_payloads", "get_index_from_list",
           "isolate_attributes", "plural", "single_or_plural", "validate_list_of_vals"]

#: Keys of a job that steer the Scheduler and are not copied into task payloads (besides the chunking flags).
CONTROL_KEYS = frozenset({"period", "lambda_name", "labourer_id", "job_schema_name"})
# Keys that chunk_dates consumes.
_DATE_KEYS = frozenset({"period", "date_list", "isolate_days", "max_days_per_batch"})

_FLAG = re.compile(r"isolate_(?P<isolate>\w+)|max_(?P<max>\w+)_per_batch")
_SCALARS = (str, int, float)
_ATTR_NAME = re.compile(r"[A-Za-z_]\w*")


def single_or_plural(attr: str) -> List[str]:
    """The names an attribute may have in a job: ``attr`` as given, without its trailing ``s`` and with one more.

    :param attr: An attribute name.

    .. code-block:: python

        single_or_plural('word')  # ['word', 'words']
    """
    return sorted({attr, attr.rstrip("s"), f"{attr}s"})


def plural(attr: str) -> str:
    """The plural of an attribute name: without its trailing ``s``, plus one ``s``.

    :param attr: An attribute name, singular or plural.

    .. code-block:: python

        plural('word')  # 'words'
        plural('words')  # 'words'
    """
    return f"{attr.rstrip('s')}s"


@dataclasses.dataclass(frozen=True)
class JobSchema:
    """A validated job schema.

    :param chunkable_attrs: Singular names of the attributes that may be chunked, outermost first.
    :param source: The config dict it was parsed from: the Scheduler puts it in ``config['job_schema']`` when it
        applies the schema, as the original told the schema in use.

    .. code-block:: python

        JobSchema.from_config({'chunkable_attrs': [('topic', {}), 'word']}, 'job_schema').chunkable_attrs
        # ('topic', 'word')
    """

    chunkable_attrs: Tuple[str, ...]
    source: Mapping[str, Any] = dataclasses.field(compare=False, repr=False)

    @classmethod
    def from_config(cls, schema: Any, config_name: str) -> "JobSchema":
        """Parse ``{'chunkable_attrs': [...]}``: singular names, or the original's ``(name, {})`` pairs.

        :param schema: The schema from the config.
        :param config_name: Where it is in the config, for the error (e.g. ``sosw_scheduler_config.job_schema``).
        :raises SchedulerConfigError: Not a dict; or a name is not an identifier, ends with ``s`` (the plural is the
            name + ``s``), is ``day`` (dates are chunked by ``isolate_days``) or comes twice.
        """
        if not isinstance(schema, dict):
            raise SchedulerConfigError(f"expected a dict, got {type(schema).__name__}", config_name=config_name)
        raw = schema.get("chunkable_attrs") or []
        if not isinstance(raw, (list, tuple)):
            raise SchedulerConfigError(f"expected a list, got {type(raw).__name__}",
                                       config_name=f"{config_name}.chunkable_attrs")
        attrs: List[str] = []
        for item in raw:
            name = item[0] if isinstance(item, (list, tuple)) and item else item
            if (not isinstance(name, str) or not _ATTR_NAME.fullmatch(name) or name.endswith("s")
                    or name == "day" or name in attrs):
                raise SchedulerConfigError(f"expected distinct singular attribute names not ending in 's' (nor 'day'), "
                                           f"got {name!r}", config_name=f"{config_name}.chunkable_attrs")
            attrs.append(name)
        return cls(tuple(attrs), copy.deepcopy(schema))


def isolate_attributes(data: Mapping[str, Any]) -> Dict[str, Any]:
    """The chunking flags of ``data``: its ``isolate_*`` and ``max_*_per_batch`` items.

    :param data: A job or a nested payload.

    .. code-block:: python

        isolate_attributes({'words': ['a'], 'isolate_words': True})  # {'isolate_words': True}
    """
    return {key: value for key, value in data.items() if _FLAG.fullmatch(key)}


def flags(plural_name: str, data: Mapping[str, Any]) -> Tuple[bool, Optional[int]]:
    """(``isolate_<plural>``, ``max_<plural>_per_batch``) of ``data``, validated. Text is accepted as jobs built
    from text give it: ``"True"``, ``"false"``, ``"yes"``, ``"3"``...

    :raises InvalidJob: A flag that is no boolean, a batch size that is no positive integer.
    """
    isolate = data.get(f"isolate_{plural_name}")
    try:
        isolated = to_bool(isolate)
    except ValueError:
        raise InvalidJob(f"expected true or false, got {isolate!r}", field=f"isolate_{plural_name}",
                         value=isolate) from None
    size = data.get(f"max_{plural_name}_per_batch")
    if isinstance(size, str) and size.strip().isdecimal():
        size = int(size)
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise InvalidJob(f"expected a positive integer, got {size!r}", field=f"max_{plural_name}_per_batch",
                         value=size)
    return isolated, size


def validate_list_of_vals(data: Union[list, set, tuple, Dict]) -> list:
    """The values of a chunkable attribute as a list. Supported values: str, int, float.

    :param data: A list, tuple or set of values (a set is sorted, so that rows come out in a stable order), or a
        dict whose values are all None: its keys are the values.
    :raises InvalidJob: Another container, a dict with a value, or a value of another type.

    .. code-block:: python

        validate_list_of_vals({'cars': None, 'food': None})  # ['cars', 'food']
    """
    if isinstance(data, dict):
        if any(value is not None for value in data.values()):
            raise InvalidJob("expected a dict whose values are all None")
        values = list(data)
    elif isinstance(data, (set, frozenset)):
        values = sorted(data, key=lambda value: (type(value).__name__, value))
    elif isinstance(data, (list, tuple)):
        values = list(data)
    else:
        raise InvalidJob(f"expected a list of values, got {type(data).__name__}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, _SCALARS):
            raise InvalidJob(f"expected str, int or float values, got {type(value).__name__} {value!r}")
    return values


def get_index_from_list(attr: str, data: Sequence[str]) -> int:
    """Index of ``attr`` in ``data``, ignoring a trailing ``s`` (plural) on either side.

    :raises ValueError: It is not there.

    .. code-block:: python

        get_index_from_list('words', ['topic', 'word'])  # 1
    """
    if not isinstance(attr, str):
        raise ValueError(f"attr: expected a string, got {type(attr).__name__}")
    singular = attr[:-1] if attr.endswith("s") else attr
    for index, item in enumerate(data):
        if item == attr or item == singular or (item.endswith("s") and item[:-1] == singular):
            return index
    raise ValueError(f"attr: {attr!r} is not in {list(data)!r}")


def _where(skeleton: Mapping[str, Any]) -> str:
    """Where in the job an error is, for its message: the values chunked above it."""
    return f" (under {dict(skeleton)})" if skeleton else ""


class Chunker:
    """Chunks jobs along a chain of chunkable attributes (see :meth:`chunk_job`).

    :param chain: Singular names of the chunkable attributes, outermost first (``Scheduler.chunkable_attrs``).

    .. code-block:: python

        chunker = Chunker(['topic', 'word'])
        chunker.chunk_job({'topics': ['cars', 'food'], 'isolate_topics': True})
        # [{'isolate_topics': True, 'topics': ['cars']}, {'isolate_topics': True, 'topics': ['food']}]
        chunker.next_attr('topics')  # 'word'
    """

    def __init__(self, chain: Sequence[str]) -> None:
        self.chain = list(chain)

    def next_attr(self, attr: str) -> Optional[str]:
        """The chunkable attribute after ``attr`` (singular or plural); None after the last one or for an attribute
        that is not chunkable."""
        try:
            index = get_index_from_list(attr, self.chain)
        except ValueError:
            return None
        return self.chain[index + 1] if index + 1 < len(self.chain) else None

    def _level(self, attr: str, data: Mapping[str, Any]) -> Tuple[Optional[str], Any, Dict, Optional[str]]:
        """(the key holding the values of ``attr`` (a singular name of the chain) in ``data`` or None, those
        values, the rest of ``data``, the next chunkable attribute or None). The plural key is the usual one; the
        singular one holds a single value."""
        plural_name = f"{attr}s"
        present = [key for key in (plural_name, attr) if data.get(key) is not None]
        if len(present) > 1:
            raise InvalidJob(f"give either {plural_name!r} or {attr!r}, not both", field=attr, value=data[attr])
        key = present[0] if present else None
        rest = {k: v for k, v in data.items() if k not in (plural_name, attr)}
        return key, (data[key] if key else None), rest, self.next_attr(attr)

    def needs_chunking(self, attr: str, data: Mapping[str, Any]) -> bool:
        """Whether chunking ``data`` from the level of ``attr`` on gives more than the data as it is: an
        ``isolate_<attr>s`` or ``max_<attr>s_per_batch`` flag at this level, in a nested payload, or for a later
        chunkable attribute beside it.

        :param attr: Name of the attribute, singular or plural; an attribute that is not chunkable needs no chunking.
        :param data: The job (or the part of it at this level).
        """
        try:
            attr = self.chain[get_index_from_list(attr, self.chain)]
        except ValueError:
            return False
        key, values, rest, next_attr = self._level(attr, data)
        if key is not None:
            isolate, size = flags(f"{attr}s", data)
            if isolate or size:
                return True
            if isinstance(values, dict) and self._nested_need_chunking(next_attr, rest, values):
                return True
        return next_attr is not None and self.needs_chunking(next_attr, rest)

    def _nested_need_chunking(self, next_attr: Optional[str], rest: Dict, values: Dict) -> bool:
        """Whether a nested payload of ``values`` needs chunking, with the flags (not the values) it inherits."""
        if next_attr is None:
            return False
        inherited = isolate_attributes(rest)
        return any(isinstance(nested, dict) and self.needs_chunking(next_attr, {**inherited, **nested})
                   for nested in values.values())

    def chunk_job(self, job: Mapping[str, Any], skeleton: Optional[Mapping[str, Any]] = None,
                  attr: Optional[str] = None) -> List[Dict]:
        """Recursively chunk a job along the chain, validating the values of each level.

        At the level of ``attr`` (the first chunkable attribute if omitted): a list of values is cut into single
        values (``isolate_<attr>s``) or batches (``max_<attr>s_per_batch``); a dict of nested payloads is split per
        key when its level is isolated or batched, or when a nested payload needs chunking, and the next attribute is
        looked for in each nested payload (which inherits the other attributes and flags of the job). A level that
        needs no chunking keeps its value as given; the next attribute is then looked for beside it.

        :param job: The job (or the part of it at this level).
        :param skeleton: Attributes already chunked by the levels above; they win over the job's.
        :param attr: Singular name of the attribute of this level.
        :return: One payload per task (control keys are still in; :func:`~sosw.scheduling.chunking.clean_payloads`
            removes them).
        :raises InvalidJob: A value of an unsupported type, naming its key.
        """
        base = dict(skeleton or {})
        if not self.chain:
            return [{**job, **base}]
        attr = self.chain[get_index_from_list(attr, self.chain)] if attr else self.chain[0]
        key, values, rest, next_attr = self._level(attr, job)

        def go_on(child: Dict, child_skeleton: Dict) -> List[Dict]:
            if next_attr is None:
                return [{**child, **child_skeleton}]
            return self.chunk_job(child, child_skeleton, next_attr)

        if key is None:
            return go_on(rest, base)
        plural_name = f"{attr}s"
        isolate, size = flags(plural_name, job)
        if isinstance(values, dict) and any(value is not None for value in values.values()):
            if not (isolate or size or self._nested_need_chunking(next_attr, rest, values)):
                return go_on(rest, {**base, key: values})
            result = []
            for name, nested in values.items():
                if nested is None:
                    nested = {}
                if not isinstance(nested, dict):
                    raise InvalidJob(f"expected a nested payload (dict) or None, got {type(nested).__name__}"
                                     f"{_where(base)}", field=f"{key}.{name}", value=nested)
                result.extend(go_on({**rest, **nested}, {**base, plural_name: [name]}))
            return result
        flat = [values] if isinstance(values, _SCALARS) and not isinstance(values, bool) else values
        try:
            flat = validate_list_of_vals(flat)
        except InvalidJob as err:
            raise InvalidJob(f"{err.message}{_where(base)}", field=key, value=values) from None
        if not (isolate or size):
            return go_on(rest, {**base, key: values})
        result = []
        for group in chunks(flat, 1 if isolate else size or 1):
            result.extend(go_on(rest, {**base, plural_name: group}))
        return result


def chunk_dates(job: Mapping[str, Any], dates_for_period: Callable[[str], List[str]],
                skeleton: Optional[Mapping[str, Any]] = None) -> List[Dict]:
    """Expand ``period`` (or validate ``date_list``) into ``date_list`` and chunk it by ``isolate_days`` or
    ``max_days_per_batch``. Dates are chunked at the root of the job only; ``period`` and the days flags are consumed.

    :param job: The job.
    :param dates_for_period: The dates of a period (``Scheduler.get_dates_for_period``).
    :param skeleton: Attributes every result gets (they win over the job's).
    :return: The job once per chunk of dates, or once (without the days flags) when it has no dates.
    :raises InvalidJob: Both ``period`` and ``date_list``, a malformed ``date_list``, or a days flag without dates.
    """
    rest = {key: value for key, value in job.items() if key not in _DATE_KEYS}
    base = dict(skeleton or {})
    period, date_list = job.get("period"), job.get("date_list")
    isolate, size = flags("days", job)
    if period is not None and date_list is not None:
        raise InvalidJob("give either period or date_list, not both", field="period", value=period)
    if period is not None:
        dates = dates_for_period(period)
    elif date_list is not None:
        dates = validate_dates(date_list, "date_list")
    else:
        if isolate or size:
            raise InvalidJob("the job has neither period nor date_list to chunk",
                             field="isolate_days" if isolate else "max_days_per_batch")
        return [{**rest, **base}]
    groups = list(chunks(dates, 1 if isolate else size or 1)) if (isolate or size) else [dates]
    return [{**rest, **base, "date_list": group} for group in groups]


def clean_payloads(tasks: Sequence[Mapping[str, Any]], chain: Collection[str],
                   skeleton: Optional[Mapping[str, Any]] = None) -> List[Dict]:
    """The task payloads: control keys removed, then ``skeleton`` applied (it wins over the job's keys).

    :param tasks: Chunked jobs, as :meth:`Chunker.chunk_job` returns them.
    :param chain: The chunkable attributes in use: a flag of any other attribute (nor ``days``) is an error.
    :param skeleton: Attributes every payload gets as given.
    :raises InvalidJob: A chunking flag of an attribute that is not chunkable, naming the flag.
    """
    known = {f"{attr}s" for attr in chain} | {"days"}
    result = []
    for task in tasks:
        payload = {}
        for key, value in task.items():
            match = _FLAG.fullmatch(key)
            if match:
                name = match["isolate"] or match["max"]
                if name not in known:
                    raise InvalidJob(f"{name!r} is not chunkable; chunkable: {sorted(known)}", field=key)
            elif key not in CONTROL_KEYS:
                payload[key] = value
        result.append({**payload, **copy.deepcopy(dict(skeleton or {}))})
    return result
