"""AWS FIS experiments that act on the image function, and the fault configuration the FIS extension reads.

Read only for a stack with the FIS experiments (output FisConfigurationLocation or a template id): without the
FIS extension on the function no Lambda action can inject anything
(https://docs.aws.amazon.com/fis/latest/userguide/use-lambda-actions.html).

- `fis:ListExperiments` (every experiment of the account and region, newest kept), then `fis:GetExperiment`
  for those still active or created in the window or the ACTION_HOURS before it (an action lasts at most 12
  hours): their targets, actions, parameters, start and end
  (https://docs.aws.amazon.com/fis/latest/APIReference/API_GetExperiment.html).
- The configuration location (`s3:ListBucket` on its prefix): FIS writes the fault configuration there while
  an experiment runs and deletes it when it ends; the extension applies what it finds.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from drill.aws import error_code
from drill.investigator.collectors._base import EvidenceList, Scope
from drill.investigator.model import RECENT_MINUTES, Evidence, Target, iso

SOURCE = "experiments"
# The Lambda actions and the kind of fault each injects
# (https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html#aws-lambda-actions-reference).
KINDS = {
    "aws:lambda:invocation-add-delay": "fis_latency_injected",
    "aws:lambda:invocation-error": "fis_errors_injected",
}
ACTIVE = frozenset({"pending", "initiating", "running", "stopping"})
ACTION_HOURS = 12  # the longest an action may last (FIS quotas)
MAX_PAGES = 5  # ListExperiments pages of 100
MAX_EXAMINED = 10  # GetExperiment calls, newest first
MAX_KEYS = 100


def aims_at(experiment_target: dict[str, Any], target: Target) -> bool | None:
    """True: the target names the function by ARN (or a version/alias of it); None: it selects Lambda
    functions by tags or filters (resolved by FIS at start, not here); False: anything else."""
    if experiment_target.get("resourceType") != "aws:lambda:function":
        return False
    arns = experiment_target.get("resourceArns") or []
    if arns:
        return any(a == target.function_arn or a.startswith(f"{target.function_arn}:") for a in arns)
    return None if experiment_target.get("resourceTags") or experiment_target.get("filters") else False


def candidates(scope: Scope) -> list[dict[str, Any]]:
    """Summaries of the experiments worth reading: active, or created since ACTION_HOURS before the window."""
    fis = scope.clients.client("fis")
    since = scope.window.start - timedelta(hours=ACTION_HOURS)
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"maxResults": 100}
    for _ in range(MAX_PAGES):
        page = fis.list_experiments(**kwargs)
        for summary in page.get("experiments", []):
            status = (summary.get("state") or {}).get("status")
            created = summary.get("creationTime")
            if status in ACTIVE or (created and since <= created <= scope.window.end):
                found.append(summary)
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return sorted(found, key=lambda s: s.get("creationTime") or scope.now, reverse=True)[:MAX_EXAMINED]


def _time(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def facts_of(experiment: dict[str, Any], name: str, action: dict[str, Any], aimed: bool | None, scope: Scope) -> dict:
    state = experiment.get("state") or {}
    status = state.get("status")
    parameters = action.get("parameters") or {}
    started, ended = _time(action.get("startTime") or experiment.get("startTime")), _time(experiment.get("endTime"))
    just_ended = bool(ended) and ended >= scope.now - timedelta(minutes=RECENT_MINUTES)
    percentage = parameters.get("invocationPercentage")
    delay = parameters.get("startupDelayMilliseconds")
    return {
        "experiment": experiment["id"],
        "template": experiment.get("experimentTemplateId"),
        "status": status,
        "reason": state.get("reason"),
        "action": name,
        "action_id": action.get("actionId"),
        "kind": KINDS.get(action.get("actionId", "")),
        "percentage": float(percentage) if percentage is not None else None,
        "delay_ms": float(delay) if delay is not None else None,
        "duration": parameters.get("duration"),
        "prevent_execution": parameters.get("preventExecution"),
        "started": iso(started) if started else None,
        "ended": iso(ended) if ended else None,
        "active": status in ACTIVE,
        "just_ended": just_ended,
        "targets_function": aimed,
        "resource": scope.target.function_name,
        "first": iso(started) if started else None,
        "last": iso(ended) if ended else None,
    }


def describe(facts: dict[str, Any], scope: Scope) -> str:
    what = facts["action_id"]
    if facts["kind"] == "fis_latency_injected":
        what += f" ({facts['delay_ms']:g} ms" if facts["delay_ms"] is not None else " (delay unset"
        what += f" on {facts['percentage']:g}% of invocations)" if facts["percentage"] is not None else ")"
    elif facts["kind"] == "fis_errors_injected" and facts["percentage"] is not None:
        what += f" (on {facts['percentage']:g}% of invocations)"
    aimed = "names" if facts["targets_function"] else "may select (by tags or filters)"
    when = f"started {facts['started']}" if facts["started"] else "not started yet"
    if facts["ended"]:
        when += f", ended {facts['ended']}"
    return (
        f"FIS experiment {facts['experiment']} (template {facts['template']}) is {facts['status']} ({when}); "
        f"action {facts['action']}: {what}; its target {aimed} function {scope.target.function_name}"
    )


def experiments(scope: Scope, out: EvidenceList) -> None:
    fis = scope.clients.client("fis")
    examined = 0
    for summary in candidates(scope):
        experiment = fis.get_experiment(id=summary["id"])["experiment"]
        examined += 1
        targets = {name: aims_at(t, scope.target) for name, t in (experiment.get("targets") or {}).items()}
        for name, action in (experiment.get("actions") or {}).items():
            aimed = [targets.get(t) for t in (action.get("targets") or {}).values()]
            hit = True if True in aimed else None if None in aimed else False
            if hit is False:
                continue
            facts = facts_of(experiment, name, action, hit, scope)
            started = _time(experiment.get("startTime"))
            out.add(
                describe(facts, scope),
                facts,
                time=started,
                event=f"FIS experiment {facts['experiment']} starts {facts['action_id']}"
                if started and started >= scope.window.start
                else None,
            )
    if not any(e.facts.get("experiment") for e in out.items):
        out.add(
            f"no FIS experiment acts on function {scope.target.function_name} (active, or started since "
            f"{iso(scope.window.start - timedelta(hours=ACTION_HOURS))}; {examined} examined)",
            {"experiment": None},
        )


def location(value: str) -> tuple[str, str]:
    """`arn:aws:s3:::bucket/FisConfigs/` -> ("bucket", "FisConfigs/")."""
    bucket, _, prefix = value.removeprefix("arn:aws:s3:::").partition("/")
    return bucket, prefix


def configuration(scope: Scope, out: EvidenceList) -> None:
    where = scope.target.fis_configuration_location
    if not where:
        return
    bucket, prefix = location(where)
    try:
        listed = scope.clients.s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=MAX_KEYS)
    except ClientError as err:
        out.add(
            f"the FIS configuration location {where} could not be listed ({error_code(err)})",
            {"configuration": None, "location": where},
        )
        return
    objects = listed.get("Contents", [])
    newest = max((o["LastModified"] for o in objects), default=None)
    detail = (
        f"{len(objects)} fault configuration object{'' if len(objects) == 1 else 's'} under {where} (FIS writes "
        f"them while an experiment runs; the extension applies them), newest {iso(newest)}: "
        + ", ".join(o["Key"] for o in objects[:5])
        if objects
        else f"no fault configuration under {where}: the extension injects nothing"
    )
    out.add(
        detail,
        {
            "configuration": bool(objects),
            "location": where,
            "objects": len(objects),
            "keys": [o["Key"] for o in objects],
            "last_modified": iso(newest) if newest else None,
        },
        time=newest,
    )


def collect(scope: Scope) -> list[Evidence]:
    out = EvidenceList(SOURCE, scope)
    target = scope.target
    if not (target.fis_configuration_location or target.fis_templates):
        out.add(
            "the stack has no FIS experiments (no output FisConfigurationLocation): without the FIS extension "
            "on the function no experiment can inject a fault; not read",
            {"read": False},
        )
        return out.items
    experiments(scope, out)
    configuration(scope, out)
    return out.items
