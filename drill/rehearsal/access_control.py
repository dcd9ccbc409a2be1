"""moto's own IAM access control, switched on for the calls a function makes to S3 under its role.

moto ignores IAM unless the server's free calls are used up (`settings.INITIAL_NO_AUTH_ACTION_COUNT`, what
moto's `/moto-api/reset-auth` sets); from then on every request is checked by moto: its signature against
keys moto issued, and the caller's identity policies (`moto.iam.access_control`). The Lambda runtime calls
each handler with credentials of the function's own role (sts:AssumeRole against moto, ASIA... keys), so
moto's check is what the role's policies allow: an inline Deny on s3:GetObject is AccessDenied.

Measured with moto 5.2.5 as a server, with every call checked (an admin user with Allow */* created while the
calls were free, its keys from iam:CreateAccessKey):
- Lambda and API Gateway refuse even the admin's correctly signed requests (SignatureDoesNotMatch);
- SSM, Lambda, CloudWatch, Logs and DynamoDB check the action against the resource "*", so a statement
  naming its resources by ARN (this project's least privilege) never matches: the image role is denied the
  ssm:GetParameter it is granted;
- sts:AssumeRole of a role trusted by a service principal fails with HTTP 500 (a TypeError in moto's trust
  check), so the runtime could not get the role's credentials under the check.
Only S3 checks the real bucket and object ARNs. So the check applies to S3 requests signed by a role's
session (the functions'), and every other request is let through as if the free calls remained: the
provisioning, the drill's own clients, the runtime, the local API and the alarm evaluator keep moto's
`testing` keys. moto still ignores a bucket policy's Principal (a Deny for one role blocks every caller).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SESSION_KEY = re.compile(r"Credential=(ASIA[A-Z0-9]+)/")  # temporary credentials (sts:AssumeRole) start ASIA


def role_session(headers: Any) -> bool:
    return bool(SESSION_KEY.search(str(headers.get("Authorization") or "")))


@contextmanager
def s3_checked_for_roles() -> Iterator[None]:
    """For the block: moto checks S3 requests signed by an assumed role's session; nothing else is checked."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import S3IAMRequest

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action
    free_calls = settings.INITIAL_NO_AUTH_ACTION_COUNT

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        if iam_request_cls is S3IAMRequest and role_session(self.headers):
            original(self, iam_request_cls, resource)  # moto's check, unchanged: the free calls are used up

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize
    try:
        yield
    finally:
        ActionAuthenticatorMixin._authenticate_and_authorize_action = original
        settings.INITIAL_NO_AUTH_ACTION_COUNT = free_calls
