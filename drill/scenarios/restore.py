"""`restore` with the game day's record: undo every recorded scenario, newest first, then the arming.

FIS scenarios go first: every recorded experiment is stopped and waited for, then the configuration
(scenarios/fis.py; one that ended by itself leaves nothing to undo): an experiment changes no resource a
direct scenario reads. For each direct scenario the resource's current state is compared with what the
scenario wrote: the same → the recorded prior state is put back and read back; already the prior state
(a crash between the record and the change) → nothing to undo; anything else (someone changed it since)
→ it is left alone, named with both states, and the restore fails unless `force`. The seed's fault is
removed by the drill's own restore step, unchanged, after the direct scenarios (so the alarm it may re-arm
finds nothing else active); it runs when the seed is recorded or its statements are present. Last, the
invocations alarm's arming goes back to what the oldest record found, by the re-arm rule.

With no record (or no record table output) and the seed's statements present, this is exactly the drill's
restore step of before. With neither a record nor those statements there is nothing to undo: the invocations
alarm's arming is left exactly as found (that step would disarm it, and its re-arm rule could then leave it
disarmed). When the record cannot be read, that step still runs (so the seed's fault never stays in) and the
restore fails.
"""

from __future__ import annotations

from typing import Any

from drill.errors import DrillError
from drill.outputs import RECORD_TABLE
from drill.scenarios import fis
from drill.scenarios import record as store
from drill.scenarios.arming import put_back
from drill.scenarios.catalogue import BY_NAME, SEED
from drill.scenarios.model import AWS_ERRORS, describe_error, same, shown, shown_against
from drill.steps import restore as seed_restore
from drill.steps.fault import fault_sids
from drill.steps.model import Drill, StepResult, Timeline

CACHE_NOTE = "the image function caches the parameter value and the key listing for imageCacheTtlSeconds (default 60 s)"


def restore(drill: Drill, *, timeout: float = 120, interval: float = 5, force: bool = False) -> StepResult:
    try:
        records = store.all_records(drill) if drill.outputs.get(RECORD_TABLE) else []
    except AWS_ERRORS as err:  # the seed's fault must not stay in because the record cannot be read
        result = seed_restore(drill, timeout=timeout, interval=interval)
        result.ok = False
        result.summary = (
            f"could not read the drill's record ({describe_error(err)}): only the seed's fault was looked for; "
            f"{result.summary}"
        )
        return result
    if not records:
        untouched = Timeline(drill)
        if _fault_present(drill, untouched):
            return seed_restore(drill, timeout=timeout, interval=interval)
        return _nothing_to_undo(drill, untouched)
    timeline = Timeline(drill)
    deadline = timeline.start + timeout
    experiments = [r for r in records if r.scenario in BY_NAME and BY_NAME[r.scenario].mechanism == "fis"]
    stopped = fis.restore(drill, timeline, experiments, deadline=deadline, interval=interval) if experiments else {}
    outcomes = [
        {"name": r.scenario, "prior": r.prior, "injected": r.injected, "outcome": stopped[r.scenario]}
        if r.scenario in stopped
        else _restore_direct(drill, timeline, r, force)
        for r in records
        if r.scenario != SEED
    ]
    seed_record = next((r for r in records if r.scenario == SEED), None)
    data: dict[str, Any] = {"scenarios": outcomes}
    ok = all(o["outcome"] in ("restored", "nothing to undo") for o in outcomes)

    seed_step = None
    if seed_record is not None or _fault_present(drill, timeline):
        seed_step = seed_restore(drill, timeout=max(1.0, deadline - drill.clock()), interval=interval)
        for event in seed_step.data.get("timeline", []):
            timeline.mark(f"[{SEED}] {event['event']}")
        data["bucket_policy_deny"] = seed_step.to_json()
        ok = ok and seed_step.ok
        if seed_step.ok and seed_record is not None:
            store.delete(drill, SEED)
        data["api_status"] = seed_step.data.get("api_status")
    elif any(o["outcome"] == "restored" for o in outcomes):
        data["api_status"] = _wait_for_200(drill, timeline, deadline, interval)
        ok = ok and data["api_status"] == 200

    still_active = [o["name"] for o in outcomes if o["outcome"] not in ("restored", "nothing to undo")]
    if still_active:
        why = f"left the invocations alarm as it is: {', '.join(still_active)} still active"
        timeline.mark(why)
        data["armed"] = None
    else:
        done, why = put_back(drill, records[-1].armed, deadline=deadline, interval=interval)
        timeline.mark(why)
        data["armed"] = done and bool(records[-1].armed)
    names = ", ".join(r.scenario for r in records)
    if ok:
        summary = f"restored {names} after {timeline.elapsed():.1f}s; {why}"
    else:
        failed = ", ".join(o["name"] for o in outcomes if o["outcome"] not in ("restored", "nothing to undo"))
        summary = f"not fully restored after {timeline.elapsed():.0f}s: " + (
            f"{failed} kept (see above)" if failed else "see above"
        )
    data["timeline"] = timeline.to_json()
    return StepResult("restore", ok, timeline.elapsed(), summary, timeline.lines(), data)


def _nothing_to_undo(drill: Drill, timeline: Timeline) -> StepResult:
    """No record and no fault statement: nothing is changed, the alarm's arming least of all."""
    why = "nothing to undo: no scenario recorded and no fault statement in the bucket policy"
    timeline.mark(why)
    timeline.mark("the invocations alarm's arming left as it is")
    data: dict[str, Any] = {"path": "none", "fault_sids": [], "scenarios": [], "timeline": timeline.to_json()}
    return StepResult(
        "restore", True, timeline.elapsed(), f"{why}; the alarm's arming left as it is", timeline.lines(), data
    )


def _fault_present(drill: Drill, timeline: Timeline) -> bool:
    try:
        return bool(fault_sids(drill))
    except AWS_ERRORS as err:
        timeline.mark(
            f"could not read the bucket policy: {describe_error(err)}; running the seed's restore all the same"
        )
        return True


def _restore_direct(drill: Drill, timeline: Timeline, record: store.Record, force: bool) -> dict[str, Any]:
    outcome: dict[str, Any] = {"name": record.scenario, "prior": record.prior, "injected": record.injected}
    scenario = BY_NAME.get(record.scenario)
    if scenario is None or scenario.read is None or scenario.write is None:
        timeline.mark(f"record {record.scenario!r} is no scenario of this drill: kept")
        return {**outcome, "outcome": "unknown scenario"}
    try:
        resource = outcome["resource"] = scenario.resource_name(drill)
        current = outcome["current"] = scenario.read(drill)
        if same(current, record.prior):
            store.delete(drill, record.scenario)
            timeline.mark(f"{record.scenario}: {resource} is as recorded before the change: nothing to undo")
            return {**outcome, "outcome": "nothing to undo"}
        if not same(current, record.injected):
            if not force:
                timeline.mark(
                    f"{record.scenario}: {resource} was changed since the injection, left as it is: it is now "
                    f"{shown_against(current, record.injected)}, the scenario wrote "
                    f"{shown_against(record.injected, current)} (restore --force puts "
                    f"{shown_against(record.prior, current)} back)"
                )
                return {**outcome, "outcome": "conflict"}
            timeline.mark(f"{record.scenario}: {resource} was changed since the injection; --force overwrites it")
        scenario.write(drill, current, record.prior)
        after = scenario.read(drill)
        if not same(after, record.prior):
            timeline.mark(f"{record.scenario}: {resource} reads back {shown(after)}, not {shown(record.prior)}")
            return {**outcome, "outcome": "failed"}
        store.delete(drill, record.scenario)
        timeline.mark(f"{record.scenario}: put {resource} back as recorded and read it back")
        return {**outcome, "outcome": "restored"}
    except (*AWS_ERRORS, DrillError) as err:
        timeline.mark(f"{record.scenario}: could not restore ({describe_error(err)}); the record stays")
        return {**outcome, "outcome": "failed"}


def _wait_for_200(drill: Drill, timeline: Timeline, deadline: float, interval: float) -> int | None:
    probe = drill.probe()
    while not probe.ok and drill.clock() < deadline:
        drill.progress(f"waiting for HTTP 200: API {probe.describe()} ({CACHE_NOTE})")
        drill.sleep(interval)
        probe = drill.probe()
    timeline.mark(f"API answers {probe.describe()}")
    return probe.status
