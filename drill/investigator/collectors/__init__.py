"""One collector per evidence source; `collect_all` runs them concurrently and never lets one sink the rest."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter

from botocore.parsers import ResponseParserError

from drill.aws import FATAL_ERRORS, SOURCE_ERRORS, error_code
from drill.investigator.collectors import (
    access_logs,
    alarm_history,
    alarms,
    api_stage,
    bucket_policy,
    cloudtrail,
    concurrency,
    experiments,
    function,
    function_policy,
    images,
    latency,
    logs,
    metrics,
    parameter,
    role,
    role_trust,
    tags,
)
from drill.investigator.collectors._base import Collector, Scope, SourceUnavailable
from drill.investigator.model import Evidence, SourceTiming, iso

# Report order: state of the resources along the request path first, then symptoms, then history.
COLLECTORS: tuple[tuple[str, Collector], ...] = (
    (api_stage.SOURCE, api_stage.collect),
    (function_policy.SOURCE, function_policy.collect),
    (function.SOURCE, function.collect),
    (bucket_policy.SOURCE, bucket_policy.collect),
    (role.SOURCE, role.collect),
    (role_trust.SOURCE, role_trust.collect),
    (parameter.SOURCE, parameter.collect),
    (images.SOURCE, images.collect),
    (concurrency.SOURCE, concurrency.collect),
    (experiments.SOURCE, experiments.collect),
    (alarms.SOURCE, alarms.collect),
    (alarm_history.SOURCE, alarm_history.collect),
    (metrics.SOURCE, metrics.collect),
    (latency.SOURCE, latency.collect),
    (logs.SOURCE, logs.collect),
    (access_logs.SOURCE, access_logs.collect),
    (cloudtrail.SOURCE, cloudtrail.collect),
    (tags.SOURCE, tags.collect),
)

NOT_PERMITTED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}
NOT_IMPLEMENTED = {"NotImplemented", "NotImplementedError", "InvalidAction", "UnknownOperationException", "500", "501"}


def why_unavailable(err: Exception) -> str:
    code = error_code(err)
    if code in NOT_PERMITTED:
        return f"not permitted ({code}): grant the drill's identity read access to this source"
    if code in THROTTLED:
        return f"throttled ({code}): run the investigation again in a minute"
    if isinstance(err, ResponseParserError):
        return "the endpoint's answer could not be parsed (moto answers unimplemented calls this way)"
    if isinstance(err, NotImplementedError) or code in NOT_IMPLEMENTED:
        return f"not implemented by this endpoint ({code})"
    return f"failed ({code})"


def unavailable(source: str, reason: str, scope: Scope) -> Evidence:
    return Evidence(
        id=f"{source}-unavailable",
        source=source,
        time=iso(scope.now),
        detail=f"{source} unavailable: {reason}; the investigation continued without it",
        facts={"reason": reason},
        available=False,
    )


def run_collector(source: str, collector: Collector, scope: Scope) -> list[Evidence]:
    try:
        return collector(scope)
    except FATAL_ERRORS:
        raise  # no credentials / no endpoint: every source would fail, so stop with one clear line
    except SourceUnavailable as err:
        return [unavailable(source, str(err), scope)]
    except SOURCE_ERRORS as err:
        return [unavailable(source, why_unavailable(err), scope)]


def timed(source: str, collector: Collector, scope: Scope) -> tuple[list[Evidence], SourceTiming]:
    start = perf_counter()
    items = run_collector(source, collector, scope)
    available = not any(not e.available for e in items)
    return items, SourceTiming(source, round(perf_counter() - start, 3), available)


def collect_timed(
    scope: Scope, collectors: Sequence[tuple[str, Collector]] = COLLECTORS
) -> tuple[list[Evidence], list[SourceTiming]]:
    """Every collector's evidence in `collectors` order, and each source's time. Sources are read in
    parallel (I/O bound), so the whole takes about as long as the slowest source."""
    with ThreadPoolExecutor(max_workers=max(1, len(collectors)), thread_name_prefix="collector") as pool:
        futures = [pool.submit(timed, source, collector, scope) for source, collector in collectors]
        results = [future.result() for future in futures]
    return [item for items, _ in results for item in items], [timing for _, timing in results]


def collect_all(scope: Scope, collectors: Sequence[tuple[str, Collector]] = COLLECTORS) -> list[Evidence]:
    """Every collector's evidence, in `collectors` order (sources read in parallel)."""
    return collect_timed(scope, collectors)[0]
