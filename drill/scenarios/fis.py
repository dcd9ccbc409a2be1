"""The FIS scenarios: start an experiment from one of the stack's templates, and stop it again.

A FIS scenario's record holds no prior state of a resource: what it changes is "an experiment of the drill
runs". `injected` holds the template, the client token and, once FIS answered, the experiment's id:

    {"template": "EXT...", "client_token": "aiops-drill-function_latency-<sequence>", "experiment": "EXP..."}

Order, so that a crash anywhere loses nothing: record (with the client token, before any call to FIS) →
disarm the invocations alarm → StartExperiment with that token and tags naming the drill → the id into the
record → wait until the experiment is `running`. Killed before the id is in the record, `restore` finds the
experiment by the token's tag (ListExperiments of the template) or finds none; a second `inject` sends the
same token, which FIS answers with the same experiment (idempotency, API_StartExperiment.html).

Restore stops every recorded experiment first, waits until each is `stopped`, then until the
configuration objects FIS wrote under FisConfigurationLocation are gone (one folder for both), then the
extension's documented ramp-down of up to 20 s
(https://docs.aws.amazon.com/fis/latest/userguide/use-lambda-actions.html, "Understanding polling"). An
experiment that ended by itself (completed, failed, or stopped by a stop condition: `state.reason`) leaves
nothing to undo, and restore says so.

Every wait polls every `interval` through `drill.sleep` and gives up at its deadline; `drill.sleep` is
also the seam where a stand-in moves an experiment on (moto 5.2.5 moves one state per GetExperiment,
through `running` to `completed`, and never writes a configuration: tests/fis_fixtures.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from drill import outputs
from drill.errors import DrillError
from drill.scenarios import record as store
from drill.scenarios.arming import disarm, found_arming
from drill.scenarios.model import AWS_ERRORS, checkpoint, describe_error
from drill.steps.model import Drill, Timeline

LATENCY = "function_latency"
ERRORS = "function_errors"
TEMPLATE_OUTPUT = {LATENCY: outputs.FIS_LATENCY_TEMPLATE, ERRORS: outputs.FIS_ERRORS_TEMPLATE}
# The alarm whose ALARM state is the scenario's symptom (trigger/gameday keep traffic running until then).
SYMPTOM_ALARM = {LATENCY: outputs.LATENCY_ALARM, ERRORS: outputs.ERRORS_ALARM}
CALLS = (
    "fis:StartExperiment",
    "fis:GetExperiment",
    "fis:ListExperiments",
    "fis:StopExperiment",
    "s3:ListObjectsV2",  # restore: the configuration objects under FisConfigurationLocation
)
# Tags on the experiment: who started it, for which scenario, and the record's token (restore's way back
# to an experiment whose id never reached the record).
TAG_BY = "aiops-drill"
TAG_SCENARIO = "aiops-drill-scenario"
TAG_TOKEN = "aiops-drill-client-token"  # noqa: S105 (a tag key, no secret)
ENDED = ("completed", "stopped", "failed")
# The extension's ramp-down: up to 20 s of faults after an experiment ends or is stopped, while it still
# polls fast (use-lambda-actions.html, "Understanding polling"; docs/partial-faults.md): waited after the
# configuration is gone.
RAMP_DOWN_SECONDS = 20.0


def unavailable(name: str) -> Callable[[Drill], str | None]:
    def why(drill: Drill) -> str | None:
        missing = [
            key for key in (TEMPLATE_OUTPUT[name], outputs.FIS_CONFIGURATION_LOCATION) if not drill.outputs.get(key)
        ]
        if missing:
            return f"this stack was deployed with fisEnabled=false: output {', '.join(missing)} absent"
        if not drill.outputs.get(outputs.RECORD_TABLE):
            return f"stack output {outputs.RECORD_TABLE} missing from {drill.outputs.origin}"
        return None

    return why


def template_id(drill: Drill, name: str) -> str:
    return drill.outputs.require(TEMPLATE_OUTPUT[name])


def configuration_place(drill: Drill) -> tuple[str, str]:
    """(bucket, prefix) of FisConfigurationLocation, "arn:aws:s3:::<bucket>/FisConfigs/"."""
    location = drill.outputs.require(outputs.FIS_CONFIGURATION_LOCATION)
    path = location.removeprefix("arn:aws:s3:::")
    bucket, _, prefix = path.partition("/")
    if path == location or not bucket:
        raise DrillError(f"stack output {outputs.FIS_CONFIGURATION_LOCATION} is not an S3 ARN: {location!r}")
    return bucket, prefix


def configuration_objects(drill: Drill) -> list[str]:
    """The keys FIS wrote for the extension (while an experiment injects there is one per target)."""
    bucket, prefix = configuration_place(drill)
    answer = drill.clients.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in answer.get("Contents", []) if item["Key"] != prefix]


def _fis(drill: Drill) -> Any:
    return drill.clients.client("fis")


def _state(experiment: dict[str, Any]) -> tuple[str, str]:
    state = experiment.get("state") or {}
    return str(state.get("status") or "unknown"), str(state.get("reason") or "")


def _shown(experiment_id: str, status: str, reason: str) -> str:
    return f"experiment {experiment_id} {status}" + (f" ({reason})" if reason else "")


def get_experiment(drill: Drill, experiment_id: str) -> dict[str, Any]:
    return _fis(drill).get_experiment(id=experiment_id)["experiment"]


def find_by_token(drill: Drill, template: str, token: str) -> str | None:
    """The experiment StartExperiment made with `token`, by its tag, among the template's experiments."""
    kwargs: dict[str, Any] = {"experimentTemplateId": template}
    while True:
        page = _fis(drill).list_experiments(**kwargs)
        for summary in page.get("experiments", []):
            if (summary.get("tags") or {}).get(TAG_TOKEN) == token:
                return str(summary["id"])
        if not page.get("nextToken"):
            return None
        kwargs["nextToken"] = page["nextToken"]


def _wait_for(
    drill: Drill, experiment_id: str, wanted: tuple[str, ...], *, deadline: float, interval: float, doing: str
) -> tuple[str, str]:
    """Poll GetExperiment until its status is one of `wanted` or has ended; (status, reason) at the end."""
    while True:
        status, reason = _state(get_experiment(drill, experiment_id))
        if status in wanted or status in ENDED or drill.clock() >= deadline:
            return status, reason
        drill.progress(f"{doing}: {_shown(experiment_id, status, reason)}")
        drill.sleep(interval)


# ------------------------------------------------------------------------------------------------ inject
def inject(drill: Drill, name: str, timeline: Timeline, *, timeout: float, interval: float) -> dict[str, Any]:
    template = template_id(drill, name)
    fresh = store.new_record(name, None, {}, found_arming(drill))
    token = f"aiops-drill-{name}-{fresh.sequence}"  # one per record: a retry sends the same one
    fresh = replace(fresh, injected={"template": template, "client_token": token, "experiment": None})
    kept = store.put_new(drill, fresh)
    if kept is fresh:
        timeline.mark(f"recorded {name} (template {template}, client token {token}) in the drill's record")
    checkpoint(drill, "recorded")
    if disarm(drill):
        timeline.mark("disarmed the invocations alarm while the scenario is active (the seed's fault stays out)")
    data: dict[str, Any] = {"scenario": name, "recorded_at": kept.recorded_at, "already": False}
    experiment_id = kept.injected.get("experiment")
    if kept is not fresh and experiment_id:
        status, reason = _state(get_experiment(drill, experiment_id))
        if status in ENDED:
            raise DrillError(
                f"{name} is recorded since {kept.recorded_at} but its {_shown(experiment_id, status, reason)}: "
                "run `restore` (nothing to undo) before injecting it again"
            )
        timeline.mark(f"{name} is recorded since {kept.recorded_at}: {_shown(experiment_id, status, reason)}")
        data["already"] = status == "running"
    else:
        if kept is not fresh:  # killed between the record and the id: the same token finds the same experiment
            timeline.mark(
                f"{name} is recorded since {kept.recorded_at} without an experiment id: starting it with the "
                "recorded client token (FIS answers with the same experiment if it was started)"
            )
        experiment_id = _start(drill, name, kept, timeline)
        kept = _record_experiment(drill, kept, experiment_id)
    data.update(experiment=experiment_id, template=template, client_token=kept.injected["client_token"])
    deadline = drill.clock() + timeout
    status, reason = _wait_for(
        drill, experiment_id, ("running",), deadline=deadline, interval=interval, doing="waiting until it runs"
    )
    if status != "running":
        ending = "ended" if status in ENDED else f"is still {status} after {timeout:.0f}s"
        raise DrillError(
            f"{name}: {_shown(experiment_id, status, reason)} - it {ending}; the record names it: run `restore`"
        )
    timeline.mark(f"{_shown(experiment_id, status, reason)}; the extension applies it within its poll interval")
    return data


def _start(drill: Drill, name: str, kept: store.Record, timeline: Timeline) -> str:
    token = kept.injected["client_token"]
    tags = {TAG_BY: "python -m drill inject", TAG_SCENARIO: name, TAG_TOKEN: token}
    try:
        answer = _fis(drill).start_experiment(
            clientToken=token, experimentTemplateId=kept.injected["template"], tags=tags
        )
    except AWS_ERRORS as err:
        raise DrillError(f"{name} refused: {describe_error(err)}; the record stays: run `restore`") from None
    experiment_id = str(answer["experiment"]["id"])
    timeline.mark(f"started experiment {experiment_id} from template {kept.injected['template']}")
    checkpoint(drill, "changed")
    return experiment_id


def _record_experiment(drill: Drill, kept: store.Record, experiment_id: str) -> store.Record:
    updated = replace(kept, injected={**kept.injected, "experiment": experiment_id})
    store.replace_injected(drill, updated)
    return updated


# ------------------------------------------------------------------------------------------------ restore
def restore(
    drill: Drill, timeline: Timeline, records: list[store.Record], *, deadline: float, interval: float
) -> dict[str, str]:
    """Stop every recorded experiment, wait until each has stopped, then until the configuration is gone
    (one folder for all: two experiments at once share it); each scenario's outcome ("restored", "nothing to
    undo" or "failed"). A record is removed only once its experiment has ended and the configuration is gone."""
    outcomes: dict[str, str] = {}
    stopping: dict[str, str] = {}  # scenario -> experiment id
    for record in records:
        try:
            outcome, experiment_id = _stop(drill, timeline, record)
        except (*AWS_ERRORS, DrillError) as err:
            timeline.mark(f"{record.scenario}: could not stop its experiment ({describe_error(err)}); the record stays")
            outcome, experiment_id = "failed", None
        outcomes[record.scenario] = outcome
        if experiment_id:
            stopping[record.scenario] = experiment_id
    for name, experiment_id in stopping.items():
        try:
            status, reason = _wait_for(
                drill, experiment_id, ("stopped",), deadline=deadline, interval=interval, doing="waiting until it stops"
            )
        except AWS_ERRORS as err:
            status, reason = "unknown", describe_error(err)
        if status in ENDED:
            timeline.mark(f"{name}: {_shown(experiment_id, status, reason)}")
        else:
            timeline.mark(f"{name}: {_shown(experiment_id, status, reason)} at the timeout; the record stays")
            outcomes[name] = "failed"
    ended = [name for name, outcome in outcomes.items() if outcome != "failed"]
    if not ended:
        return outcomes
    try:
        gone = _wait_for_no_configuration(
            drill, timeline, ", ".join(ended), stopped_one=bool(stopping), deadline=deadline, interval=interval
        )
        for name in ended:
            if gone:
                store.delete(drill, name)
            else:
                outcomes[name] = "failed"
    except (*AWS_ERRORS, DrillError) as err:
        timeline.mark(f"{', '.join(ended)}: could not check the fault configuration ({describe_error(err)})")
        outcomes.update(dict.fromkeys(ended, "failed"))
    return outcomes


def _stop(drill: Drill, timeline: Timeline, record: store.Record) -> tuple[str, str | None]:
    """(outcome so far, the experiment now stopping or None): an experiment that never started or already
    ended leaves nothing to undo."""
    name, injected = record.scenario, record.injected or {}
    experiment_id = injected.get("experiment") or find_by_token(
        drill, str(injected.get("template")), str(injected.get("client_token"))
    )
    if experiment_id is None:
        timeline.mark(f"{name}: no experiment was started (recorded, then stopped before FIS): nothing to undo")
        return "nothing to undo", None
    status, reason = _state(get_experiment(drill, experiment_id))
    if status in ENDED:
        timeline.mark(f"{name}: {_shown(experiment_id, status, reason)} by itself: nothing to undo")
        return "nothing to undo", None
    if status != "stopping":
        _fis(drill).stop_experiment(id=experiment_id)
        timeline.mark(f"{name}: stopping experiment {experiment_id} (it was {status})")
    return "restored", experiment_id


def _wait_for_no_configuration(
    drill: Drill, timeline: Timeline, name: str, *, stopped_one: bool, deadline: float, interval: float
) -> bool:
    """Until FIS has removed the configuration, then the extension's ramp-down (after an experiment this
    restore stopped, or a configuration it saw); False at the deadline."""
    found = configuration_objects(drill)
    seen = bool(found)
    while found:
        if drill.clock() >= deadline:
            timeline.mark(f"{name}: the fault configuration is still there at the timeout: {', '.join(found)}")
            return False
        drill.progress(f"waiting until FIS removes the fault configuration: {', '.join(found)}")
        drill.sleep(interval)
        found = configuration_objects(drill)
    location = drill.outputs.require(outputs.FIS_CONFIGURATION_LOCATION)
    if not (seen or stopped_one):
        timeline.mark(f"{name}: no fault configuration under {location}")
        return True
    # On the stack's clock: a stand-in that compresses time (the rehearsal) compresses this as its periods.
    ramp = max(0.0, min(drill.period_length(RAMP_DOWN_SECONDS), deadline - drill.clock()))
    timeline.mark(f"{name}: no fault configuration under {location}; waiting {ramp:.0f}s for the extension's ramp-down")
    drill.sleep(ramp)
    return True
