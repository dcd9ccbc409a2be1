"""The fault injector's answers: the response shape, and the response and log line of a finished change."""

from __future__ import annotations

import logging
from typing import Any, NamedTuple, NotRequired, TypedDict

from fault_policy import Policy, Statement, fault_sids, foreign_sids, statements_of

logger = logging.getLogger()


class Result(TypedDict):
    action: str  # "inject" | "restore" | "status" | "ignored"
    changed: bool
    faultPresent: bool  # as last read from the bucket (False when reading it failed: see "error")
    sids: list[str]
    attempts: NotRequired[int]
    foreignSids: NotRequired[list[str]]
    reason: NotRequired[str]
    error: NotRequired[str]
    code: NotRequired[str]


class Settled(NamedTuple):
    policy: Policy  # as last read
    sids: list[str]  # Sids this call's writes added or removed
    attempts: int  # writes made
    settled: bool  # False: still not as intended after MAX_WRITES writes


def result(action: str, *, changed: bool, fault_present: bool, sids: list[str], **extra: Any) -> Result:
    response: Result = {"action": action, "changed": changed, "faultPresent": fault_present, "sids": sids}
    response.update(extra)  # type: ignore[typeddict-item]
    return response


def answer(action: str, bucket: str, ours: list[Statement], outcome: Settled, extra: dict[str, Any]) -> Result:
    """The response and log line of an inject or restore that ran to its end."""
    present = fault_sids(outcome.policy, ours)
    foreign = foreign_sids(outcome.policy, ours)
    fields = {"action": action, "bucket": bucket, "attempts": outcome.attempts, "foreign_sids": foreign, **extra}
    response = result(
        action,
        changed=outcome.attempts > 0,
        fault_present=bool(present),
        sids=outcome.sids,
        attempts=outcome.attempts,
        foreignSids=foreign,
    )
    if not outcome.settled:
        logger.error("bucket policy did not settle", extra=fields)
        response.update(error=f"bucket policy still changing after {outcome.attempts} writes", code="PolicyNotSettled")
    elif outcome.attempts == 0:
        logger.info("fault already present" if action == "inject" else "no fault to remove", extra=fields)
    elif action == "inject":
        logger.info("fault injected", extra={**fields, "sids_added": outcome.sids})
    else:
        fields |= {"sids_removed": outcome.sids, "policy_deleted": not statements_of(outcome.policy)}
        logger.info("fault removed", extra=fields)
    if foreign:
        logger.warning("foreign statements with the fault's Sid prefix kept", extra=fields)
    return response
