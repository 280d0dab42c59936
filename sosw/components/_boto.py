"""One way to create boto3 clients: lazily, thread-safely, with botocore's standard retry mode."""

import os
import threading
from typing import Any, Optional

import boto3
from botocore.config import Config

_LOCK = threading.Lock()


def default_boto_config() -> Config:
    """Standard retry mode (retries throttling with backoff) unless the environment chooses another."""
    return Config(retries={"mode": os.environ.get("AWS_RETRY_MODE", "standard")})


def make_client(service: str, boto3_session: Optional[boto3.session.Session] = None,
                boto_config: Optional[Config] = None) -> Any:
    """Create a boto3 client. boto3's default session is not thread-safe, so creation is serialised.

    :param service: Service name as boto3 knows it, e.g. ``'dynamodb'``.
    :param boto3_session: Session to create it from; the default session otherwise.
    :param boto_config: botocore ``Config`` merged over :func:`default_boto_config`.
    """
    config = default_boto_config() if boto_config is None else default_boto_config().merge(boto_config)
    with _LOCK:
        if boto3_session is not None:
            return boto3_session.client(service, config=config)
        return boto3.client(service, config=config)
