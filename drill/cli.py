"""`python -m drill <command>`: wiring of the real seams, output and exit codes (arguments: `parser`).

Exit codes: 0 the command did what it should; 1 the drill failed (a step did not reach its goal, AWS
unreachable or refusing a call, a cleanup that failed); 2 usage errors (arguments, stack outputs,
credentials, region, a stack without the fault chain for `trigger`/`run`/`arm`/`disarm`); 130 after
Ctrl-C or SIGTERM once the cleanup succeeded.
"""

from __future__ import annotations

import argparse
import functools
import json
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from drill import stack, steps
from drill.aws import account_id, as_drill_error, make_clients
from drill.declared.source import program_source, read_declared
from drill.errors import DrillError, Terminated
from drill.investigator import REQUIRED_OUTPUTS
from drill.investigator.declared import Declared
from drill.parser import build_parser
from drill.preflight import command as preflight_command
from drill.region import resolve_region
from drill.rehearsal import command as rehearsal
from drill.rehearsal.command import DEFAULT_STACK, ROOT
from drill.scenarios import command as gameday
from drill.scenarios import restore as restore_recorded
from drill.steps.model import describe
from drill.steps.render import print_run, print_step
from drill.steps.restore import READS as RESTORE_READS
from drill.steps.run import INTERRUPTED
from drill.steps.status import READS as STATUS_READS
from drill.steps.trigger import READS as TRIGGER_READS

# Outputs each command cannot work without: what its steps read (the fault chain is checked on its own,
# so a stack deployed without it gets that message rather than a list of missing outputs).
NEEDED = {
    "status": STATUS_READS,
    "trigger": tuple(dict.fromkeys(TRIGGER_READS)),
    "investigate": REQUIRED_OUTPUTS,
    "restore": RESTORE_READS,
    "run": tuple(dict.fromkeys((*STATUS_READS, *TRIGGER_READS, *REQUIRED_OUTPUTS, *RESTORE_READS))),
    "arm": (),
    "disarm": (),
    "inject": (stack.BUCKET,),
    "gameday": tuple(dict.fromkeys((*REQUIRED_OUTPUTS, stack.API_ENDPOINT, *RESTORE_READS))),
    "traffic": (stack.API_ENDPOINT,),
}
NEEDS_FAULT_CHAIN = ("trigger", "run", "arm", "disarm")
# `trigger --scenario` says what its scenario needs
COMPARES_DECLARED = ("investigate", "run")  # commands whose investigation compares the stack's declared state


def rerun_options(args: argparse.Namespace) -> tuple[str, str]:
    """(options that point `python -m drill` at this stack again, the same for the aws CLI)."""
    drill = [
        ("--outputs", args.outputs),
        ("--stack", args.stack),
        ("--region", args.region),
        ("--profile", args.profile),
    ]
    aws = [("--region", args.resolved_region), ("--profile", args.profile)]

    def join(pairs: list[tuple[str, str | None]]) -> str:
        return " ".join(f"{flag} {shlex.quote(value)}" for flag, value in pairs if value)

    return join(drill), join(aws)


def make_drill(args: argparse.Namespace, outputs: stack.StackOutputs, err: TextIO) -> steps.Drill:
    region, note = resolve_region(args.region, args.profile, outputs)
    if note:
        print(f"drill: note: {note}", file=err, flush=True)
    args.resolved_region = region.name
    clients = make_clients(region=region.name, profile=args.profile)
    account = account_id(clients)  # proves credentials and endpoint before any step starts
    endpoint = outputs.get(stack.API_ENDPOINT)
    probe = steps.http_probe(endpoint) if endpoint else (lambda: steps.Probe(None, 0.0, "no ApiEndpoint output"))
    drill_options, aws_options = rerun_options(args)
    return steps.Drill(
        outputs=outputs,
        clients=clients,
        account=account,
        region=region.name,
        api_probe=probe,
        function_caller=steps.lambda_caller(clients),
        progress=lambda message: print(message, file=err, flush=True),
        cli_options=drill_options,
        aws_cli_options=aws_options,
    )


def declared_state(
    args: argparse.Namespace, drill: steps.Drill, runner: Callable[..., subprocess.CompletedProcess], err: TextIO
) -> Declared | None:
    """The stack's declared state for the investigation (drill/declared/source.py): `pulumi stack
    export` through `runner` when the outputs came from the Pulumi CLI, else the program under mocks."""
    function = drill.outputs.get(stack.IMAGE_FUNCTION)
    if args.command not in COMPARES_DECLARED or getattr(args, "scenario", None) or function is None:
        return None
    declared, note = read_declared(
        from_cli=args.outputs is None,
        stack=args.stack,
        default_stack=DEFAULT_STACK,
        function_name=function,
        runner=runner,
        program=program_source(ROOT, drill.account),
    )
    print(f"drill: note: {note}", file=err, flush=True)
    return declared


def execute(args: argparse.Namespace, drill: steps.Drill, out: TextIO, declared: Declared | None = None) -> int:
    if args.command == "status":
        result = steps.status(drill)
        print(json.dumps(result.to_json(), indent=2) if args.json else "\n".join(result.lines), file=out)
        return 0 if result.ok else 1
    if args.command in ("arm", "disarm"):
        print("\n".join(steps.arm_step(drill, enabled=args.command == "arm").lines), file=out)
        return 0
    if args.command == "investigate":
        result, report = steps.investigate_step(drill, since_minutes=args.since, declared=declared)
        print(json.dumps(report.to_json(), indent=2) if args.json else "\n".join(result.lines), file=out)
        return 0
    if args.command == "inject":
        return gameday.run_inject(args, drill, out)
    if args.command == "gameday":
        return gameday.run_gameday(args, drill, out)
    if args.command == "traffic":
        return gameday.run_traffic(args, drill, out)
    if args.command == "restore":  # every recorded scenario first (drill/scenarios), else the seed's as before
        result = restore_recorded(drill, timeout=args.timeout, interval=args.interval, force=args.force)
        print_step(result, args.json, out)
        if result.stopped is not None:  # interrupted once the fault was gone: the result says what was done
            return INTERRUPTED if result.ok else 1
        return 0 if result.ok else 1
    if args.command == "trigger" and args.scenario:  # a game-day scenario (drill/scenarios)
        return gameday.run_trigger(args, drill, out)
    if args.command == "trigger":
        outcome = steps.trigger_with_cleanup(
            drill, timeout=args.timeout, interval=args.interval, restore_timeout=args.restore_timeout
        )
        if outcome.ok:  # the fault is in: the timeline is the story
            print_step(outcome.steps[0], args.json, out)
        else:
            print_run(outcome, args.json, out)
        return outcome.exit_code
    if args.scenario:  # `run --scenario`: a game-day scenario as the fault (drill/scenarios)
        outcome = gameday.run_scenario(
            drill,
            args.scenario,
            since_minutes=args.since,
            trigger_timeout=args.trigger_timeout,
            restore_timeout=args.restore_timeout,
            interval=args.interval,
        )
        print_run(outcome, args.json, out)
        return outcome.exit_code
    outcome = steps.run(
        drill,
        since_minutes=args.since,
        trigger_timeout=args.trigger_timeout,
        restore_timeout=args.restore_timeout,
        interval=args.interval,
        declared=declared,
    )
    print_run(outcome, args.json, out)
    return outcome.exit_code


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """SIGTERM raises `Terminated` in the main thread, so it unwinds (and cleans up) like Ctrl-C."""

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an embedding caller): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@functools.cache
def _parser() -> argparse.ArgumentParser:
    """The command line, built once per process: building it costs more than parsing (argparse looks its
    messages up in the translation catalogues for each of the ~15 parsers), and parsing leaves it as it was.
    Callers that run several commands in one process (the game day, the tests) build it once."""
    return build_parser()


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    runner: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    make: Callable[[argparse.Namespace, stack.StackOutputs, TextIO], steps.Drill] = make_drill,
) -> int:
    """Run one command; `runner` and `make` are the seams for the Pulumi CLI and the AWS-facing drill."""
    out, err = out or sys.stdout, err or sys.stderr
    args = _parser().parse_args(argv)  # exits 2 on usage errors, 0 on --help
    if args.command == "rehearse":  # brings its own stack (moto), outputs and signal handling
        return rehearsal.main(args, out, err)
    if args.command == "preflight":  # reads the stack's configuration, not its outputs
        return preflight_command.main(args, out, err)
    if args.command == "scenarios":  # the catalogue: no stack, no AWS
        return gameday.list_scenarios(args, out)
    with sigterm_raises():
        try:
            outputs = stack.load_outputs(args.outputs, args.stack, runner=runner)
            outputs.require_all(NEEDED[args.command])
            if args.command in NEEDS_FAULT_CHAIN and not getattr(args, "scenario", None):
                steps.require_fault_chain(outputs)
            drill = make(args, outputs, err)
            code = execute(args, drill, out, declared_state(args, drill, runner, err))
            if code == INTERRUPTED:
                print("drill: interrupted; the fault was cleaned up", file=err)
            return code
        except DrillError as problem:
            print(f"drill: error: {problem}", file=err)
            return problem.exit_code
        except (ClientError, BotoCoreError, ResponseParserError) as problem:
            mapped = as_drill_error(problem)
            print(f"drill: error: {mapped}", file=err)
            return mapped.exit_code if mapped else 1
        except KeyboardInterrupt as stop:
            # Outside trigger/run nothing was half-done by the drill itself: say where it stopped.
            unfinished = "; it did not finish: run it again" if args.command == "restore" else ""
            if args.command == "inject":  # the record may be written: restore knows what to undo
                unfinished = "; run `restore` to undo whatever it recorded"
            print(f"drill: {describe(stop)} during {args.command}{unfinished}", file=err)
            return INTERRUPTED
