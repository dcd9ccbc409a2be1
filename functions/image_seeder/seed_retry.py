"""Retry AccessDenied while a freshly created role policy propagates (IAM is eventually consistent).

The seeder runs seconds after its role policy is created, so S3 or Bedrock may answer AccessDenied for a
while (typically under a minute). Every AWS call goes through one `AccessRetry` per invocation: it retries
only AccessDenied, with exponential backoff (1, 2, 4, 8, 16, 16, ... s), until one shared deadline: 75 s
after the invocation started, or earlier if the Lambda's remaining time minus a reserve says so. After the
deadline the AccessDenied is final and propagates; so is one the caller's `final` says waiting cannot cure
(a Bedrock model that needs a one-time step). Sleep and clock are injected so tests run instantly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError

logger = logging.getLogger()

ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException"})
WINDOW_S = 75.0  # IAM propagation "typically under a minute"; the deploy waits at most this long for it
RESERVE_S = 60.0  # left for the fallback upload and the answer when the Lambda's own time is the bound
FIRST_DELAY_S, MAX_DELAY_S = 1.0, 16.0

T = TypeVar("T")


class AccessRetry:
    def __init__(
        self,
        deadline: float,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        final: Callable[[ClientError], bool] = lambda err: False,
    ) -> None:
        self.deadline = deadline
        self.sleep = sleep
        self.clock = clock
        self.final = final
        self.started = clock()

    @classmethod
    def starting_now(
        cls,
        remaining_ms: int | None,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        final: Callable[[ClientError], bool] = lambda err: False,
    ) -> AccessRetry:
        window = WINDOW_S if remaining_ms is None else max(0.0, min(WINDOW_S, remaining_ms / 1000 - RESERVE_S))
        return cls(clock() + window, sleep, clock, final)

    def call(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        delay, attempt = FIRST_DELAY_S, 1
        while True:
            try:
                return fn(**kwargs)
            except ClientError as err:
                code = err.response["Error"]["Code"]
                left = self.deadline - self.clock()
                if code not in ACCESS_DENIED or self.final(err):
                    raise
                if left <= 0:
                    err.access_retry = {"attempts": attempt, "waitedSeconds": round(self.clock() - self.started, 1)}
                    raise
                wait = min(delay, left)
                logger.warning(
                    "access denied, retrying: the role policy may still be propagating",
                    extra={
                        "error_code": code,
                        "operation": err.operation_name,
                        "attempt": attempt,
                        "retry_in_s": wait,
                        "deadline_in_s": round(left, 1),
                    },
                )
                self.sleep(wait)
                delay, attempt = min(delay * 2, MAX_DELAY_S), attempt + 1
