"""The REST API's stage: does throttling on GET /random leave room for requests?

Stage-wide limits are the `*/*` method settings; a `~1random/GET` entry overrides them for the route.
A rate or burst of 0 answers every request with 429; below LOW_LIMIT a handful of callers already get
429 (the stack's defaults are rate 100, burst 50: config apiThrottlingRateLimit/apiThrottlingBurstLimit).
429 is a 4XX: the 5XX alarm stays quiet, so the metrics collector reads 4XXError and Count as well.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from drill.investigator.collectors._base import EvidenceList, Scope, SourceUnavailable, is_code
from drill.investigator.model import Evidence

SOURCE = "api"
ROUTE_SETTINGS = "~1random/GET"  # GetStage's key for the GET /random method override
STAGE_SETTINGS = "*/*"
LOW_LIMIT = 5.0
STACK_DEFAULTS = {"rateLimit": 100.0, "burstLimit": 50}


def effective_limits(method_settings: dict[str, Any]) -> tuple[float | None, int | None, str | None, str | None]:
    """(rate, burst, where the rate comes from, where the burst comes from) for GET /random."""
    route, stage = method_settings.get(ROUTE_SETTINGS) or {}, method_settings.get(STAGE_SETTINGS) or {}
    rate_from = ROUTE_SETTINGS if "throttlingRateLimit" in route else STAGE_SETTINGS if stage else None
    burst_from = ROUTE_SETTINGS if "throttlingBurstLimit" in route else STAGE_SETTINGS if stage else None
    rate = (route if rate_from == ROUTE_SETTINGS else stage).get("throttlingRateLimit")
    burst = (route if burst_from == ROUTE_SETTINGS else stage).get("throttlingBurstLimit")
    return rate, burst, rate_from if rate is not None else None, burst_from if burst is not None else None


def shown(limit: float | None) -> str:
    return "unset" if limit is None else f"{limit:g}"


def collect(scope: Scope) -> list[Evidence]:
    target, out = scope.target, EvidenceList(SOURCE, scope)
    if not target.rest_api_id:
        raise SourceUnavailable(target.notes.get("rest_api_id", "the REST API's id is unknown"))
    api, stage_name = target.rest_api_id, target.api_stage
    try:
        stage = scope.clients.client("apigateway").get_stage(restApiId=api, stageName=stage_name)
    except ClientError as err:
        if not is_code(err, "NotFoundException"):
            raise
        out.add(f"API {api} has no stage {stage_name} (or the API does not exist)", {"api": api, "stage_exists": False})
        return out.items
    rate, burst, rate_from, burst_from = effective_limits(stage.get("methodSettings") or {})
    facts = {"api": api, "stage": stage_name, "rate": rate, "burst": burst, "rate_from": rate_from}
    facts |= {"burst_from": burst_from, "stage_exists": True}
    if rate is None and burst is None:
        out.add(
            f"API {api} stage {stage_name}: no throttling set on GET /random (account limits apply)",
            {**facts, "throttled": False},
        )
        return out.items
    zero = rate == 0 or burst == 0
    low = zero or any(limit is not None and limit < LOW_LIMIT for limit in (rate, burst))
    verdict = (
        ": every request gets 429"
        if zero
        else f": below {LOW_LIMIT:g}, callers beyond a handful get 429"
        if low
        else ""
    )
    out.add(
        f"API {api} stage {stage_name}: GET /random throttled at rate {shown(rate)}/s ({rate_from}) and burst "
        f"{shown(burst)} ({burst_from}){verdict}",
        {**facts, "throttled": low, "zero": zero},
    )
    return out.items
