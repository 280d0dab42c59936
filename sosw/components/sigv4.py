"""
Sign HTTP requests to AWS services (OpenSearch, API Gateway with IAM auth, ...) with Signature Version 4.

:class:`AwsSigV4RequestGenerator` is an auth callable for the ``requests`` library; ``requests`` itself is not a
dependency of sosw: any request object with ``method``, ``url``, ``headers`` and ``body`` can be signed. The
signature is computed by botocore's ``SigV4Auth``, the signer every AWS SDK call goes through.

.. code-block:: python

    import requests

    from sosw.components.sigv4 import AwsSigV4RequestGenerator

    auth = AwsSigV4RequestGenerator(aws_service='es', aws_region='us-west-2')  # credentials from the environment
    requests.get('https://search-domain.us-west-2.es.amazonaws.com/_cluster/health', auth=auth)
"""

import datetime
import hashlib
import hmac
import logging
import os
from typing import Any, Dict, List, Optional, Tuple

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sosw.exceptions import InvalidArgument

# Hashing a payload or building a canonical request needs no secret: the signer is made with empty credentials.
_NO_CREDENTIALS = Credentials("", "")

__all__ = ["AwsSigV4RequestGenerator"]

logger = logging.getLogger(__name__)

_ALGORITHM = "AWS4-HMAC-SHA256"


class _MissingSetting(InvalidArgument, KeyError):
    """A required setting is missing; a ``KeyError`` as in 0.7.47."""

    def __str__(self) -> str:
        # KeyError quotes its message; this one reads as a sentence.
        return InvalidArgument.__str__(self)


class AwsSigV4RequestGenerator:
    """A ``requests`` auth callable that adds the SigV4 headers (``Authorization``, ``X-Amz-Date``,
    ``x-amz-content-sha256`` and, with temporary credentials, ``x-amz-security-token``) to a request.

    The headers signed are ``host``, ``x-amz-date`` and ``x-amz-security-token`` (when there is a session token), as
    in 0.7.47, so proxies that rewrite other headers do not break the signature.

    :param kwargs: ``aws_service`` (required, for example ``'es'``), ``aws_region`` (default: ``AWS_REGION`` from the
        environment), ``aws_access_key_id``, ``aws_secret_access_key`` and ``aws_session_token`` (default: all three
        from the environment, when the key or the secret is not given), ``aws_host`` (the ``Host`` to sign, when it
        differs from the host of the URL). Every one becomes an attribute.
    :raises KeyError: If the service, the credentials or the region are missing.

    .. code-block:: python

        auth = AwsSigV4RequestGenerator(aws_service='es', aws_region='us-west-2', aws_access_key_id='AKID',
                                        aws_secret_access_key='secret')
        response = requests.post(url, json={'query': {'match_all': {}}}, auth=auth)
    """

    aws_service: str
    aws_region: str
    aws_access_key_id: str
    aws_secret_access_key: str
    aws_session_token: Optional[str]

    def __init__(self, **kwargs: Any):
        if not kwargs.get("aws_service"):
            raise _MissingSetting("is required, for example 'es'", "aws_service")
        self.aws_session_token = None
        self.aws_host: Optional[str] = None
        self.amzdate: Optional[str] = None
        self.datestamp: Optional[str] = None
        self.__dict__.update(kwargs)

        # The three come together: a token from the environment must not be paired with keys given here.
        if not (getattr(self, "aws_access_key_id", None) and getattr(self, "aws_secret_access_key", None)):
            logger.debug("Reading the AWS credentials from the environment")
            self.aws_access_key_id = os.getenv("AWS_ACCESS_KEY_ID") or ""
            self.aws_secret_access_key = os.getenv("AWS_SECRET_ACCESS_KEY") or ""
            self.aws_session_token = os.getenv("AWS_SESSION_TOKEN") or os.getenv("AWS_SECURITY_TOKEN")
        if not (self.aws_access_key_id and self.aws_secret_access_key):
            raise _MissingSetting("AWS access key ID and secret access key are required", "aws_access_key_id")

        if not getattr(self, "aws_region", None):
            self.aws_region = os.getenv("AWS_REGION") or ""
        if not self.aws_region:
            raise _MissingSetting("is required (or AWS_REGION in the environment)", "aws_region")

    def __call__(self, request: Any) -> Any:
        """Sign ``request`` at the current time: add the SigV4 headers to it.

        :param request: A ``requests.PreparedRequest``, or any object with ``method``, ``url``, ``headers`` (a dict)
            and ``body`` (bytes, text or ``None``).
        :return: The same request.
        """
        self.amzdate, self.datestamp = self.get_headers_and_credential_date()
        request.headers.update(self.get_aws_sigv4_headers(request))
        return request

    def _signer(self) -> SigV4Auth:
        credentials = Credentials(self.aws_access_key_id, self.aws_secret_access_key, self.aws_session_token)
        return SigV4Auth(credentials, self.aws_service, self.aws_region)

    def _aws_request(self, method: str, url: str, body: Any = None) -> AWSRequest:
        """The request as botocore signs it: only the headers to sign, and the time of signing in its context."""
        if self.amzdate is None:
            self.amzdate, self.datestamp = self.get_headers_and_credential_date()
        headers = {"X-Amz-Date": self.amzdate}
        if self.aws_host:
            headers["Host"] = self.aws_host
        if self.aws_session_token:
            headers["X-Amz-Security-Token"] = self.aws_session_token
        aws_request = AWSRequest(method=method, url=url, data=body, headers=headers)
        aws_request.context["timestamp"] = self.amzdate
        return aws_request

    def get_aws_sigv4_headers(self, request: Any) -> Dict[str, str]:
        """Return the headers that sign ``request`` at the time of :meth:`get_headers_and_credential_date`.

        :param request: The request to sign (``method``, ``url``, ``body``).
        :return: ``Authorization``, ``X-Amz-Date``, ``x-amz-content-sha256`` and, with a session token,
            ``x-amz-security-token``.
        """
        aws_request = self._aws_request(request.method, request.url, request.body)
        signer = self._signer()
        canonical_request = signer.canonical_request(aws_request)
        logger.debug("Canonical request: %r", canonical_request)
        headers = {
            "Authorization": self.get_authorization_header(
                canonical_request, signer.signed_headers(signer.headers_to_sign(aws_request))
            ),
            "X-Amz-Date": self.amzdate or "",
            "x-amz-content-sha256": signer.payload(aws_request),
        }
        if self.aws_session_token:
            headers["x-amz-security-token"] = self.aws_session_token
        return headers

    @staticmethod
    def sign(key: bytes, msg: str) -> bytes:
        """The HMAC-SHA256 digest of ``msg`` with ``key``: one step of the signing key derivation.

        :param key: The key.
        :param msg: The text to sign.
        :return: The digest.
        """
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()

    @staticmethod
    def get_headers_and_credential_date() -> Tuple[str, str]:
        """The current UTC time for the ``X-Amz-Date`` header and the date of the credential scope.

        :return: ``('20240101T120000Z', '20240101')``.
        """
        now = datetime.datetime.now(datetime.timezone.utc)
        return now.strftime(SIGV4_TIMESTAMP), now.strftime("%Y%m%d")

    @staticmethod
    def get_payload_hash(request: Any) -> str:
        """The hex SHA-256 of the body of ``request`` (of an empty body if it has none).

        :param request: The request (``method``, ``url``, ``body``).
        :return: The hash, as ``x-amz-content-sha256`` carries it.
        """
        aws_request = AWSRequest(method=request.method, url=request.url, data=request.body)
        return SigV4Auth(_NO_CREDENTIALS, "", "").payload(aws_request)

    @staticmethod
    def _canonical_request_of_url(parsed_url: Any) -> List[str]:
        """The lines of the canonical request of a GET of ``parsed_url``: method, path, query string, ..."""
        request = AWSRequest(method="GET", url=parsed_url.geturl())
        return SigV4Auth(_NO_CREDENTIALS, "", "").canonical_request(request).split("\n")

    @classmethod
    def get_canonical_querystring(cls, parsed_url: Any) -> str:
        """The canonical query string of the URL: parameters sorted by name.

        :param parsed_url: The URL, as ``urllib.parse.urlparse`` returns it.
        :return: The query string as signed.
        """
        return cls._canonical_request_of_url(parsed_url)[2]

    @classmethod
    def get_canonical_uri(cls, parsed_url: Any) -> str:
        """The canonical path of the URL: normalised and URI-encoded, ``/`` if empty.

        :param parsed_url: The URL, as ``urllib.parse.urlparse`` returns it.
        :return: The path as signed.
        """
        return cls._canonical_request_of_url(parsed_url)[1]

    def get_signature_key(self) -> bytes:
        """The signing key of the secret access key for the date, region and service of the signature.

        :return: The key.
        """
        if self.datestamp is None:
            self.amzdate, self.datestamp = self.get_headers_and_credential_date()
        key = self.sign(f"AWS4{self.aws_secret_access_key}".encode(), self.datestamp)
        for scope in (self.aws_region, self.aws_service, "aws4_request"):
            key = self.sign(key, scope)
        return key

    def get_canonical_headers(self, parsed_url: Any) -> str:
        """The canonical headers signed for a request to ``parsed_url``, each on a line ending with a newline.

        :param parsed_url: The URL, as ``urllib.parse.urlparse`` returns it.
        :return: ``host:...``, ``x-amz-date:...`` and, with a session token, ``x-amz-security-token:...``.
        """
        signer = self._signer()
        aws_request = self._aws_request("GET", parsed_url.geturl())
        return signer.canonical_headers(signer.headers_to_sign(aws_request)) + "\n"

    def get_authorization_header(self, canonical_request: str, signed_headers: str) -> str:
        """The ``Authorization`` header that signs ``canonical_request`` at the current signing time.

        :param canonical_request: The canonical request, as SigV4 defines it.
        :param signed_headers: The names of the signed headers, ``;``-separated: ``host;x-amz-date``.
        :return: ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``.
        """
        if self.amzdate is None:
            self.amzdate, self.datestamp = self.get_headers_and_credential_date()
        signer = self._signer()
        # botocore reads the time of signing from the context of a request; nothing else of it is used here.
        context = AWSRequest(method="GET", url="https://localhost/")
        context.context["timestamp"] = self.amzdate
        string_to_sign = signer.string_to_sign(context, canonical_request)
        signature = signer.signature(string_to_sign, context)
        return f"{_ALGORITHM} Credential={signer.scope(context)}, SignedHeaders={signed_headers}, Signature={signature}"
