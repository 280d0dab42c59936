"""One way to create boto3 clients: lazily, thread-safely, with botocore's standard retry mode."""

import os
import threading
from typing import Any, Callable, Optional

import boto3
from botocore.config import Config

_LOCK = threading.Lock()


def default_boto_config() -> Config:
    """Standard retry mode (retries throttling with backoff) unless the environment chooses another."""
    retries: Any = {"mode": os.environ.get("AWS_RETRY_MODE", "standard")}  # a mode name the stubs can't check
    return Config(retries=retries)


def make_client(service: str, boto3_session: Optional[boto3.session.Session] = None,
                boto_config: Optional[Config] = None) -> Any:
    """Create a boto3 client. boto3's default session is not thread-safe, so creation is serialised.

    :param service: Service name as boto3 knows it, e.g. ``'dynamodb'``.
    :param boto3_session: Session to create it from; the default session otherwise.
    :param boto_config: botocore ``Config`` merged over :func:`default_boto_config`.
    """
    config = default_boto_config() if boto_config is None else default_boto_config().merge(boto_config)
    # Looked up at call time, so that users' patch('boto3.client') reaches every client sosw makes; typed as a plain
    # callable because the service name is only known at run time.
    factory: Callable[..., Any] = boto3.client if boto3_session is None else boto3_session.client
    with _LOCK:
        return factory(service, config=config)
