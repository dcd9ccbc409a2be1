"""The game day's flows against one moto server (reset before every test): `gameday` (inject, symptom,
answers, investigator, restore, scorecard), its restore on Ctrl-C, and `trigger --scenario`.

moto serves no API: the probe is a stand-in that fails while a scenario is recorded.
"""

from __future__ import annotations

import pytest
from gameday_fixtures import (  # noqa: F401  (fresh, moto_server: fixtures)
    FAST,
    differences,
    fresh,
    gameday_stack,
    make_drill,
    moto_server,
    snapshot,
)

from drill.scenarios import NAMES
from drill.scenarios.gameday import gameday
from drill.scenarios.run import run_scenario
from drill.scenarios.trigger import trigger_scenario
from drill.steps import Probe

pytestmark = pytest.mark.e2e  # game-day flows against a moto server: the `.ci/run` e2e step


def on_poll_clock(drill) -> None:
    """The drill's timeouts counted in polls: each `sleep` advances its clock by what it asked, and no other
    time passes. On the real clock a 2 s timeout is a race with the machine's load (these waits poll moto
    without sleeping); here it is always the same number of polls."""
    elapsed = [0.0]
    slept = drill.sleep

    def sleep(seconds: float) -> None:
        elapsed[0] += seconds
        slept(seconds)

    drill.clock = lambda: elapsed[0]
    drill.sleep = sleep


def failing_while_recorded(stack):
    """The API as participants see it: 500 while any scenario is recorded (moto serves no API)."""
    table = stack.outputs["DrillRecordTableName"]

    def probe() -> Probe:
        active = stack.client("dynamodb").scan(TableName=table)["Items"]
        return Probe(500 if active else 200, 1.0)

    return probe


def test_a_game_day_scores_the_participants_and_the_investigator_and_restores(fresh):  # noqa: F811
    stack = gameday_stack(fresh, "gd-game")
    before = snapshot(stack)
    drill = make_drill(stack, fresh)
    drill.api_probe = failing_while_recorded(stack)
    seen: list[str] = []
    drill.progress = seen.append
    asked: list[str] = []

    def participants(prompt: str) -> str:
        asked.append(prompt)
        return "function_throttled\n"

    result = gameday(
        drill, choice="random", answer=None, ask=participants, show=seen.append, rng=OnlyThrottled(), **FAST
    )
    card = result.data
    assert result.ok, result.lines
    assert (card["scenario"], card["truth"]) == ("function_throttled", "function_throttled")
    assert card["participants"]["answer"] == "function_throttled" and card["participants"]["hit"]
    assert card["investigator"] == {**card["investigator"], "answer": "function_throttled", "hit": True}
    assert card["restore"]["ok"]
    assert "api_throttled" in asked[0] and "no_images" in asked[0]  # the prompt lists the kinds
    before_answer = seen[: seen.index(next(line for line in seen if line.startswith("investigator:"))) + 1]
    assert not [line for line in before_answer if "throttl" in line], before_answer  # random: nothing revealed
    assert "API: HTTP 500 in 1 ms" in before_answer
    assert [line for line in result.lines if line.startswith("participants")] == [
        f"participants  function_throttled in {card['participants']['seconds']:.1f}s (hit)"
    ]
    assert differences(before, snapshot(stack)) == {}


def test_ctrl_c_at_the_participants_prompt_restores(fresh):  # noqa: F811
    stack = gameday_stack(fresh, "gd-interrupted")
    before = snapshot(stack)
    drill = make_drill(stack, fresh)
    drill.api_probe = failing_while_recorded(stack)

    def interrupted(_prompt: str) -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        gameday(drill, choice="api_throttled", answer=None, ask=interrupted, show=lambda _line: None, **FAST)
    assert differences(before, snapshot(stack)) == {}


class OnlyThrottled:
    """The random pick, made predictable: it chooses function_throttled among the scenarios offered."""

    def choice(self, names: list[str]) -> str:
        assert set(names) == set(NAMES)  # every scenario is available on this stack
        return "function_throttled"


def test_trigger_with_a_scenario_waits_for_its_symptom_and_keeps_it(fresh):  # noqa: F811
    stack = gameday_stack(fresh, "gd-trigger")
    drill = make_drill(stack, fresh)
    table = stack.outputs["DrillRecordTableName"]
    drill.api_probe = lambda: Probe(429 if stack.client("dynamodb").scan(TableName=table)["Items"] else 200, 1.0)
    result, cleanup = trigger_scenario(drill, "api_throttled", restore_timeout=2, **FAST)
    assert result.ok and cleanup is None, result.lines
    assert "API answers HTTP 429 in 1 ms" in "\n".join(result.lines)
    assert snapshot(stack)["method_settings"]["*/*"]["throttlingRateLimit"] == 0  # still injected


def test_trigger_with_a_scenario_whose_symptom_never_comes_restores(fresh):  # noqa: F811
    stack = gameday_stack(fresh, "gd-trigger-timeout")
    before = snapshot(stack)
    drill = make_drill(stack, fresh)
    on_poll_clock(drill)
    result, cleanup = trigger_scenario(drill, "parameter_missing", restore_timeout=2, **FAST)
    assert not result.ok and "timed out" in result.summary
    assert cleanup is not None and cleanup.ok
    # Exactly as before but the arming: the trigger's own probes (image-function invocations) fill a period the
    # invocations alarm may still evaluate, so the re-arm rule leaves it disarmed and says how to arm it.
    after = snapshot(stack)
    assert set(differences(before, after)) == {"alarms"}
    assert not after["alarms"][stack.outputs["CloudWatchAlarmName"]][0]
    assert "python -m drill arm" in cleanup.summary or any("python -m drill arm" in line for line in cleanup.lines)


def test_run_with_a_scenario_marks_the_investigation_a_hit_and_restores(fresh):  # noqa: F811
    stack = gameday_stack(fresh, "gd-run")
    before = snapshot(stack)
    drill = make_drill(stack, fresh)
    on_poll_clock(drill)
    failing = failing_while_recorded(stack)
    alarm = stack.outputs["ApiGateway5XXAlarmName"]

    def probe_and_evaluate() -> Probe:
        """The API, and CloudWatch evaluating the 5XX alarm on what it answered (moto never evaluates)."""
        answer = failing()
        state = "ALARM" if answer.failing else "OK"
        stack.client("cloudwatch").set_alarm_state(AlarmName=alarm, StateValue=state, StateReason="test")
        return answer

    drill.api_probe = probe_and_evaluate
    outcome = run_scenario(
        drill, "function_throttled", since_minutes=15, trigger_timeout=2, restore_timeout=2, interval=0.05
    )
    assert [s.name for s in outcome.steps] == ["status", "trigger", "investigate", "restore", "status"]
    assert outcome.ok and outcome.exit_code == 0, outcome.table()
    investigate = outcome.steps[2]
    assert investigate.summary.startswith("hit (truth function_throttled): ")
    assert (investigate.data["truth"], investigate.data["hit"]) == ("function_throttled", True)
    # Exactly as before but the arming: the run's own probes (status, trigger, restore, status) are invocations
    # the alarm may still evaluate, so the re-arm rule leaves it disarmed and the restore says how to arm it.
    after = snapshot(stack)
    assert set(differences(before, after)) == {"alarms"}
    assert "python -m drill arm" in outcome.steps[3].summary
