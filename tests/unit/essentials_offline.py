"""Essentials and Workers built without a config source or AWS clients: the tests hand them their collaborators."""

from typing import Any, Dict, Optional, Type, TypeVar

from sosw.app import Processor

P = TypeVar("P", bound=Processor)


def offline(cls: Type[P], rows: Optional[Dict[str, Dict[str, Any]]] = None) -> Type[P]:
    """A subclass of ``cls`` whose config rows are ``rows`` (by row name; none by default) and that builds no
    clients (``init_clients`` is empty): assign ``task_client``, ``sns_client``, ... in the test."""

    def get_config(self: Processor, name: str) -> Dict[str, Any]:
        return dict((rows or {}).get(name, {}))

    return type(f"Offline{cls.__name__}", (cls,), {
        "DEFAULT_CONFIG": {**cls.DEFAULT_CONFIG, "init_clients": []},
        "get_config": get_config,
    })
