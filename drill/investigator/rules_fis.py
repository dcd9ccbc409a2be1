"""Ranking rules for the faults AWS FIS injects into the image function through its extension: added latency
and errors on a share of the invocations. Evidence in, a hypothesis out.

State: an experiment (`experiments` source) whose action of the kind acts on the function, active now (0.6),
or ended in the last RECENT_MINUTES (0.45: its effect lingers in the metrics; it holds only with the
observation), or that selects the function only by tags or filters (0.3). Observation (+0.2): for latency a
latency symptom (the alarm in ALARM or a rise over the baseline), for errors the function's Errors or the API's
5XX. CloudTrail (+0.1): StartExperiment on the experiment's template. The fault configuration under the
extension's location is cited when present. Configuration objects without any experiment (written by hand, or
left behind) are a weak hypothesis (0.3): they name no kind the investigator can tell apart, so they never
make a guessed root cause.
"""

from __future__ import annotations

from drill.investigator.evidences import Evidences, hypothesis
from drill.investigator.model import Evidence, Hypothesis, RootCauseKind

ACTIVE_BASE, JUST_ENDED_BASE, SELECTED_BASE, LEFT_BEHIND_BASE = 0.6, 0.45, 0.3, 0.3


def _acting(ev: Evidences, kind: RootCauseKind) -> list[Evidence]:
    return [
        e
        for e in ev.of("experiments")
        if e.facts.get("kind") == kind and (e.facts.get("active") or e.facts.get("just_ended"))
    ]


def _base(state: list[Evidence]) -> float:
    if any(e.facts.get("active") and e.facts.get("targets_function") for e in state):
        return ACTIVE_BASE
    if any(e.facts.get("targets_function") for e in state):
        return JUST_ENDED_BASE
    return SELECTED_BASE


def _configuration(ev: Evidences) -> list[Evidence]:
    return [e for e in ev.of("experiments") if e.facts.get("configuration")]


def _when(facts: dict) -> str:
    if facts.get("active"):
        return f"is {facts['status']} (started {facts['started'] or 'not yet'})"
    return f"ended {facts['ended']} ({facts['status']}; the extension stops within about 20 s, metrics lag minutes)"


def _share(ev: Evidences) -> str:
    errors = sum(e.facts.get("sum", 0) for e in ev.metric("fn_errors"))
    invoked = sum(e.facts.get("sum", 0) for e in ev.metric("fn_invocations"))
    if not invoked:
        return ""
    return f"; the function reported {errors:g} Errors of {invoked:g} invocations ({errors / invoked:.0%})"


def _summary(state: list[Evidence], what: str, effect: str) -> str:
    facts = state[0].facts
    share = f"{facts['percentage']:g}%" if facts.get("percentage") is not None else "a share"
    return (
        f"AWS FIS experiment {facts['experiment']} (template {facts['template']}) {_when(facts)} and injects "
        f"{what} into {share} of the image function's invocations ({facts['action_id']}), so {effect}"
    )


def fis_latency_injected(ev: Evidences) -> Hypothesis | None:
    state = _acting(ev, "fis_latency_injected")
    if not state:
        return _left_behind(ev)
    delay = state[0].facts.get("delay_ms")
    rise = ev.latency()
    effect = (
        "those requests are slower; every request still succeeds"
        + (f" ({rise[0].detail.split(';')[0]})" if rise else " (no latency symptom seen yet)")
        + "."
    )
    return hypothesis(
        "fis_latency_injected",
        state[0].facts["resource"],
        _base(state),
        state,
        _summary(state, f"a {delay:g} ms delay" if delay is not None else "a delay", effect),
        ev,
        logs=rise,
        extra=_configuration(ev),
        changes=ev.changes({"StartExperiment"}, state[0].facts.get("template")),
    )


def fis_errors_injected(ev: Evidences) -> Hypothesis | None:
    state = _acting(ev, "fis_errors_injected")
    if not state:
        return None
    failing = ev.metric("fn_errors") + ev.metric("api_5xx")
    prevented = ""
    if str(state[0].facts.get("prevent_execution")).lower() == "true":
        prevented = " without running the handler (no error lines of its own)"
    effect = f"those invocations fail{prevented} and the API answers 5XX to them{_share(ev)}."
    return hypothesis(
        "fis_errors_injected",
        state[0].facts["resource"],
        _base(state),
        state,
        _summary(state, "errors", effect),
        ev,
        logs=failing,
        extra=[*_configuration(ev), *ev.metric("fn_invocations")],
        changes=ev.changes({"StartExperiment"}, state[0].facts.get("template")),
    )


def _left_behind(ev: Evidences) -> Hypothesis | None:
    """Configuration objects and no experiment acting on the function: FIS deletes them when an experiment
    ends, so they were written by hand or left behind; the extension may still apply them."""
    objects = _configuration(ev)
    if not objects or any(e.facts.get("kind") for e in ev.of("experiments")):
        return None
    facts = objects[0].facts
    summary = (
        f"{facts['objects']} fault configuration object(s) under {facts['location']} (newest "
        f"{facts['last_modified']}) while no FIS experiment acts on the function: the extension may apply them. "
        "Which fault they configure is not read."
    )
    # No observation weight: a latency rise next to them stays `unknown`, with this hypothesis listed.
    return hypothesis("fis_latency_injected", facts["location"], LEFT_BEHIND_BASE, objects, summary, ev)
