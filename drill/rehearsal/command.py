"""Rehearse the whole incident drill on this machine, without an AWS account.

Starts a local stand-in for AWS (moto), deploys this project's Pulumi program into it, and serves the
image API on a local port. Then it runs the same five steps as `python -m drill run`: status, trigger
(the alarm fires and its action injects the fault), investigate, restore, status. It prints what `run`
prints, then notes on what stood in for AWS and what a stand-in cannot show.

With `--scenario NAME|all` it plays game-day scenarios of the catalogue instead (`python -m drill
scenarios` lists them): each is injected, shows its symptom, is investigated and restored, and the stack
is compared with how it was before, field by field; a scorecard says which were detected and restored.

Alarm periods are compressed (a few seconds stand for one minute), so the whole rehearsal takes seconds.
It needs neither the Pulumi CLI nor Docker nor a network, and never reaches AWS: AWS_* variables and
profiles are ignored while it runs. Everything it starts is stopped when it ends, fails or is interrupted
(Ctrl-C). Exit status: 0 when every step succeeded (every scenario detected and restored), 1 when one failed,
2 for a stack it cannot read or an unknown scenario, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from drill import stack as outputs_contract
from drill.errors import DrillError, UsageError

if TYPE_CHECKING:  # the drill's steps are imported when the command runs (they pull in boto3)
    from drill.rehearsal.alarms import AlarmEvaluator
    from drill.rehearsal.scenario_play import Played
    from drill.rehearsal.stack_config import StackConfig
    from drill.steps import Drill, RunResult

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STACK = "dev"
MINUTE_SECONDS = 2.0  # wall seconds that stand for one minute of alarm period
TICK_SECONDS = 0.5  # how often alarms are evaluated
INTERVAL_SECONDS = 0.25  # the drill's polling interval
TRIGGER_TIMEOUT_SECONDS = 30.0
RESTORE_TIMEOUT_SECONDS = 15.0
SINCE_MINUTES = 30.0
SCENARIO_SINCE_MINUTES = 1.0  # each scenario's investigation looks back a minute of wall time (not at the last ones)
# A partial fault's steady traffic, about what the local API serves on 2 cores (one invocation at a time,
# ~0.2-0.4 s each): more would queue, and the queue's wait alone would count in Latency.
FIS_TRAFFIC_RPS = 4.0
# The stand-in's share of affected invocations is drawn from a seeded generator (reproducible). Seed 0's first
# 25 draws are all above 0.2: the latency scenario's first 25 invocations got no delay, a share of 0 where 20%
# is planned, and it waited 16 s for its alarm. Seed 2's first 40 draws give 8 below 0.2, the planned 20%.
FIS_SEED = 2
FIS_EXPERIMENT_MINUTES = 60  # an experiment outlasts its scenario on a slow machine (2 min of wall time), so
# restore stops it (StopExperiment) rather than finding it completed by itself after the default 5 (10 s)
ENDPOINT = re.compile(
    r"^https://(?P<api>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com/(?P<stage>[^/]+)(?P<path>/.*)$"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack",
        default=DEFAULT_STACK,
        metavar="NAME",
        help=f"stack whose Pulumi.NAME.yaml configures the rehearsed program (default {DEFAULT_STACK})",
    )
    parser.add_argument("--json", action="store_true", help="print the step results and the notes as JSON")
    parser.add_argument(
        "--scenario",
        metavar="NAME|all",
        help="play this game-day scenario (or every one of the catalogue, `all`) instead of the default story: "
        "inject, symptoms, investigate, restore, and check the stack is exactly as before; prints a scorecard",
    )


def main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the rehearsal; 0 when the whole story happened, 1 when a step failed, 130 when interrupted."""
    stopping = threading.Event()

    def interrupt(signum: int, frame: Any) -> None:
        stopping.set()  # provisioning still queued in Pulumi's runtime stops at once instead of running on
        raise KeyboardInterrupt

    # Ctrl-C and SIGTERM unwind through every cleanup below (moto, the local API, the evaluator).
    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        scenario = getattr(args, "scenario", None)
        return rehearse(args.stack, as_json=args.json, out=out, err=err, stopping=stopping, scenario=scenario)
    except KeyboardInterrupt:
        stopping.set()
    except DrillError as problem:
        if not stopping.is_set():
            print(f"rehearse: error: {problem}", file=err)
            return problem.exit_code
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    print("rehearse: interrupted; moto, the local API and the alarm evaluator were stopped", file=err)
    return 130


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """The program runs from the project root, as `pulumi up` runs it (function code paths are relative)."""
    before = Path.cwd()
    os.chdir(path)
    added = str(path) not in sys.path
    if added:
        sys.path.insert(0, str(path))
    try:
        yield
    finally:
        os.chdir(before)
        if added:
            sys.path.remove(str(path))


def rehearse(
    stack_name: str,
    *,
    as_json: bool,
    out: TextIO,
    err: TextIO,
    stopping: threading.Event,
    scenario: str | None = None,
) -> int:
    # Heavy imports (boto3, moto, pulumi) only when the command runs.
    import boto3

    from drill import steps
    from drill.aws import Clients
    from drill.rehearsal import scenario_play
    from drill.rehearsal.alarms import AlarmEvaluator
    from drill.rehearsal.aws_context import SERVICES, Aws
    from drill.rehearsal.local_api import LocalApi
    from drill.rehearsal.moto_server import (
        FAKE_CREDENTIALS,
        aws_environment,
        cloudwatch_metric_windows,
        isolated_environment,
        moto_server,
    )
    from drill.rehearsal.notes import Notes, seed_result
    from drill.rehearsal.replica import deploy
    from drill.rehearsal.runtime import LambdaRuntime
    from drill.rehearsal.stack_config import load_stack_config, qualified

    started = time.monotonic()

    def say(message: str) -> None:
        print(f"rehearse: +{time.monotonic() - started:4.1f}s {message}", file=err, flush=True)

    names = scenario_play.chosen(scenario) if scenario is not None else None  # a usage error before moto starts
    config = load_stack_config(ROOT, stack_name)
    if names is not None:
        # No cache between a scenario's change and its symptom: a game day on AWS waits out the image
        # function's cache (imageCacheTtlSeconds, default 60 s); offline each scenario would wait a minute.
        config.values[qualified(config.project, "imageCacheTtlSeconds")] = "0"
        config = with_fis(config, names)  # a usage error (exit 2) too, before moto starts
    fis_on = config.values.get(qualified(config.project, "fisEnabled")) == "true"
    with ExitStack() as cleanup:
        moto = cleanup.enter_context(moto_server())
        cleanup.enter_context(cloudwatch_metric_windows())  # the investigator's window, read as CloudWatch reads it
        notes = Notes(stack=stack_name, moto_endpoint=moto.url, moto_port=moto.port)
        environment = aws_environment(moto.url, config.region)
        # The drill's clients must not retry: moto answers calls it does not implement with HTTP 500.
        cleanup.enter_context(isolated_environment({**environment, "AWS_MAX_ATTEMPTS": "1"}))
        cleanup.enter_context(working_directory(ROOT))
        say(f"moto on {moto.url}; provisioning the program (stack {stack_name}) into it")
        session = boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=config.region,
        )
        clients = {service: session.client(service, endpoint_url=moto.url) for service in SERVICES}
        runtime = LambdaRuntime(base_environment=environment, region=config.region, clients=clients)
        runtime.start()
        cleanup.callback(runtime.stop)
        account = clients["sts"].get_caller_identity()["Account"]
        aws = Aws(clients=clients, region=config.region, account=account, runtime=runtime, root=ROOT, stopping=stopping)
        replica = deploy(aws, config, ROOT)
        values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in replica.outputs.items() if v is not None}
        notes.provisioned, notes.skipped = len(replica.provisioned), replica.skipped
        notes.providers = replica.providers
        notes.seed = seed_result(replica.outputs.get(outputs_contract.SEED_RESULT))
        say(
            f"{notes.provisioned} resources provisioned, {len(notes.skipped)} skipped; seed: {notes.seed.get('status')}"
        )

        deployed = values.get(outputs_contract.API_ENDPOINT, "")
        route = ENDPOINT.match(deployed)
        if route is None:
            raise UsageError(f"stack output ApiEndpoint {deployed!r} is not an API Gateway URL the local API can serve")
        api = LocalApi(api_id=route["api"], stage=route["stage"], clients=clients, runtime=runtime)
        api.start()
        cleanup.callback(api.stop)
        notes.api_url, notes.api_port, notes.deployed_endpoint = api.url(route["path"]), api.port, deployed
        values[outputs_contract.API_ENDPOINT] = notes.api_url

        drill_clients = Clients(session)
        for service in ("s3", "ssm", "iam", "lambda", "cloudwatch", "logs", "cloudtrail", "sts", "fis"):
            drill_clients.client(service)  # made now, before any handler swaps the environment
        alarm_names = [r["id"] for r in replica.provisioned if r["type"] == "aws:cloudwatch/metricAlarm:MetricAlarm"]
        evaluator = AlarmEvaluator(
            alarm_names=alarm_names,
            clients=clients,
            runtime=runtime,
            account=account,
            region=config.region,
            minute=MINUTE_SECONDS,
            tick=TICK_SECONDS,
        )
        notes.minute_seconds, notes.tick_seconds, notes.window_minutes = MINUTE_SECONDS, TICK_SECONDS, SINCE_MINUTES
        evaluator.start()
        cleanup.callback(evaluator.stop)
        stand_in = fis_stand_in(clients, runtime, account, config.region) if fis_on else None
        if stand_in is not None:
            from drill.rehearsal.fis_standin import running

            cleanup.enter_context(running(stand_in, tick=TICK_SECONDS))
        say(f"local API on {notes.api_url}; {notes.time_compression}")

        drill = steps.Drill(
            outputs=outputs_contract.StackOutputs(values=values, origin="the rehearsal's replica"),
            clients=drill_clients,
            account=account,
            region=config.region,
            api_probe=steps.http_probe(notes.api_url),
            function_caller=runtime.invoke,
            period_length=lambda seconds: seconds / 60 * MINUTE_SECONDS,  # the evaluator's compressed periods
            advise_commands=False,  # moto stops with the rehearsal: no command can act on this stack afterwards
            progress=lambda message: print(message, file=err, flush=True),
        )
        outcome, played = None, None
        if names is not None:
            notes.iam_checked, notes.window_minutes = True, SCENARIO_SINCE_MINUTES
            aws.caveat(
                "imageCacheTtlSeconds is 0 here: each scenario's change shows at once (on AWS the image function "
                "caches the parameter and the key listing for a minute by default)"
            )
            if fis_on:
                aws.caveat(
                    f"fisEnabled is true here (the FIS scenarios need the extension's configuration, templates and "
                    f"alarms), and the experiments last {FIS_EXPERIMENT_MINUTES} minutes instead of the stack's "
                    "setting: each is still running when its scenario stops it; their traffic is "
                    f"{FIS_TRAFFIC_RPS:g} requests a second through the local API"
                )
            played = play_scenarios(drill, names, evaluator)
            code, printed = (0 if scenario_play.ok(played) else 1), ""
        else:
            try:
                outcome, printed = run_drill(drill, as_json=as_json)
                code = outcome.exit_code
            except (DrillError, ClientError, BotoCoreError) as problem:  # a step could not go on: say so, keep notes
                code, printed = 1, ""
                say(f"the drill stopped: {problem}")
        evaluator.stop()
        evaluator.evaluate_all()  # a last tick: the 5XX alarm may not have been evaluated since the last 5XX
        say("drill done; stopping the local API, the alarm evaluator and moto")
        notes.api_statuses = list(api.statuses)
        notes.transitions = [t.to_json() for t in evaluator.transitions]
        notes.invocations = dict(Counter(i["function"] for i in runtime.invocations))
        notes.caveats = [
            *aws.caveats,
            *(stand_in.notes() if stand_in is not None else []),
            *(f"alarm evaluator error: {e}" for e in evaluator.errors),
            *(f"local API could not serve {f}" for f in api.failures),
        ]
    notes.seconds = time.monotonic() - started
    if played is not None:
        scenario_play.render(played, as_json=as_json, out=out, notes=notes.to_json() if as_json else None)
        if not as_json:
            print(*notes.lines(), sep="\n", file=out)
        return code
    if as_json:
        document = json.loads(printed) if printed else {"ok": False, "steps": []}
        document["rehearsal"] = notes.to_json()
        print(json.dumps(document, indent=2), file=out)
    else:
        print(printed.rstrip("\n"), *notes.lines(), sep="\n", file=out)
    if code != 0:
        say(f"the story stopped at step {failed_step(outcome) or '?'} (see the table)")
    return code


def play_scenarios(drill: Drill, names: list[str], evaluator: AlarmEvaluator) -> list[Played]:
    """The chosen scenarios, played one after another with moto's access control on the functions' S3 calls
    (drill/rehearsal/access_control.py). Before a scenario played through the alarm chain the evaluator
    settles: a change it decided before the inject's SetAlarmState would otherwise overwrite that state
    (as at the start, when the invocations alarm goes from ALARM to OK) and its action would never run."""
    from drill.rehearsal import scenario_play
    from drill.rehearsal.access_control import s3_checked_for_roles
    from drill.rehearsal.scenario_state import differences, snapshot

    def settle(scenario: Any) -> None:
        if scenario.mechanism == "fault-function":
            evaluator.settle(timeout=TRIGGER_TIMEOUT_SECONDS)

    timing = scenario_play.Timing(
        symptom_timeout=TRIGGER_TIMEOUT_SECONDS,
        restore_timeout=RESTORE_TIMEOUT_SECONDS,
        interval=INTERVAL_SECONDS,
        since_minutes=SCENARIO_SINCE_MINUTES,
        traffic_rps=FIS_TRAFFIC_RPS,
    )
    with s3_checked_for_roles():
        return scenario_play.play_all(
            drill,
            names,
            timing=timing,
            read_state=snapshot,
            compare=differences,
            before_each=settle,
            progress=drill.progress,
        )


def with_fis(config: StackConfig, names: list[str]) -> StackConfig:
    """The configuration the chosen scenarios need: fisEnabled=true (with experiments that outlast a
    scenario) when one is a FIS scenario. The program refuses FIS together with Application Signals (one
    exec wrapper): that is a usage error naming both keys, never one of them silently dropped."""
    from drill.rehearsal.stack_config import qualified
    from drill.scenarios.catalogue import BY_NAME

    fis_names = [name for name in names if BY_NAME[name].mechanism == "fis"]
    if not fis_names:
        return config
    if config.values.get(qualified(config.project, "applicationSignalsEnabled")) == "true":
        raise UsageError(
            f"scenario {', '.join(fis_names)} needs {config.project}:fisEnabled=true, which cannot combine with "
            f"{config.project}:applicationSignalsEnabled=true in Pulumi.{config.stack}.yaml (one exec wrapper): "
            "rehearse a stack without Application Signals, or name the other scenarios"
        )
    return config.with_values(
        {
            "fisEnabled": True,
            "fisLatencyDurationMinutes": FIS_EXPERIMENT_MINUTES,
            "fisErrorsDurationMinutes": FIS_EXPERIMENT_MINUTES,
        }
    )


def fis_stand_in(clients: dict[str, Any], runtime: Any, account: str, region: str) -> Any:
    """What AWS FIS and its Lambda extension do, for the FIS scenarios (drill/rehearsal/fis_standin.py)."""
    from drill.rehearsal.fis_standin import FisStandIn

    return FisStandIn(
        clients=clients, runtime=runtime, account=account, region=region, minute=MINUTE_SECONDS, seed=FIS_SEED
    )


def run_drill(drill: Drill, *, as_json: bool) -> tuple[RunResult, str]:
    """`python -m drill run`'s steps on the replica, and their result as `run` prints it (captured, so the
    notes can follow it)."""
    from drill import steps
    from drill.steps.render import print_run

    outcome = steps.run(
        drill,
        since_minutes=SINCE_MINUTES,
        trigger_timeout=TRIGGER_TIMEOUT_SECONDS,
        restore_timeout=RESTORE_TIMEOUT_SECONDS,
        interval=INTERVAL_SECONDS,
    )
    buffer = io.StringIO()
    print_run(outcome, as_json, buffer)
    return outcome, buffer.getvalue()


def failed_step(outcome: RunResult | None) -> str | None:
    """The first step that did not reach its goal, else the one an interrupt ended (a restore cut short
    once the fault was gone), from the run's result: never from printed text."""
    if outcome is None:
        return None
    failed = next((step.name for step in outcome.steps if not step.ok), None)
    return failed or (outcome.steps[-1].name if outcome.stopped is not None and outcome.steps else None)
