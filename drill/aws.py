"""boto3 clients from the standard settings, and the AWS errors that stop the drill outright.

Credentials, region, retries and the endpoint come from boto3's usual chain (environment, profile,
instance role). boto3 >= 1.28 reads `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) by itself,
which is how the drill runs against a local moto server.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError

from drill.errors import DrillError, UsageError

# Errors that mean "nothing will work": never reported as one unavailable evidence source.
FATAL_ERRORS: tuple[type[Exception], ...] = (
    NoCredentialsError,
    PartialCredentialsError,
    NoRegionError,
    EndpointConnectionError,
    ConnectTimeoutError,
)
# Errors that make one source unavailable (not permitted, throttled, not implemented by the endpoint —
# moto answers unimplemented calls with an HTML 500 that botocore cannot parse).
SOURCE_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError, ResponseParserError, NotImplementedError)
REJECTED_CREDENTIAL_CODES = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
}


class Clients:
    """One boto3 client per service, created on first use; safe to share between collector threads."""

    def __init__(self, session: boto3.session.Session | None = None) -> None:
        self._session = session or boto3.session.Session()
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()  # boto3 sessions are not thread-safe; clients are

    @property
    def region(self) -> str | None:
        return self._session.region_name

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(service)
            return self._clients[service]

    def use(self, service: str, client: Any) -> None:
        """Use a ready-made client for a service (a stubbed one in tests, a tuned one elsewhere)."""
        with self._lock:
            self._clients[service] = client

    # Named accessors keep call sites short and greppable.
    s3 = property(lambda self: self.client("s3"))
    ssm = property(lambda self: self.client("ssm"))
    iam = property(lambda self: self.client("iam"))
    lambda_ = property(lambda self: self.client("lambda"))
    cloudwatch = property(lambda self: self.client("cloudwatch"))
    logs = property(lambda self: self.client("logs"))
    cloudtrail = property(lambda self: self.client("cloudtrail"))
    sts = property(lambda self: self.client("sts"))


def make_clients(*, region: str, profile: str | None) -> Clients:
    """A session from the standard chain, in the region `drill.region` chose."""
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as err:
        raise UsageError(str(err)) from None
    return Clients(session)


def error_code(err: Exception) -> str:
    """The AWS error code of a ClientError, or the exception's class name."""
    if isinstance(err, ClientError):
        return str(err.response.get("Error", {}).get("Code") or "ClientError")
    return type(err).__name__


def account_id(clients: Clients) -> str:
    """Who we are (sts:GetCallerIdentity): the cheapest call that proves credentials and endpoint work."""
    return str(clients.sts.get_caller_identity()["Account"])


def as_drill_error(err: Exception) -> DrillError | None:
    """One clear line for AWS errors that stop everything; None for errors a caller should handle."""
    if isinstance(err, NoCredentialsError | PartialCredentialsError):
        return UsageError(
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            "(or run where an instance or SSO role is available)"
        )
    if isinstance(err, NoRegionError):
        return UsageError("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION) or pass --region")
    if isinstance(err, EndpointConnectionError | ConnectTimeoutError):
        url = getattr(err, "kwargs", {}).get("endpoint_url", "")
        return DrillError(f"cannot reach the AWS endpoint {url}: is the network (or AWS_ENDPOINT_URL) right?")
    if isinstance(err, ClientError) and error_code(err) in REJECTED_CREDENTIAL_CODES:
        return UsageError(f"AWS rejected the credentials ({error_code(err)}): refresh or change them")
    if isinstance(err, ClientError):
        operation = getattr(err, "operation_name", "call")
        message = err.response.get("Error", {}).get("Message", "")
        return DrillError(f"AWS {operation} failed with {error_code(err)}: {message}".rstrip(": "))
    if isinstance(err, BotoCoreError):
        return DrillError(f"AWS SDK error: {err}")
    return None
