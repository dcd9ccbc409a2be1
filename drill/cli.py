"""`python -m drill <command>`: argument parsing, wiring of the real seams, output and exit codes.

Exit codes: 0 the command did what it should; 1 the drill failed (a step did not reach its goal, AWS
unreachable or refusing a call); 2 usage errors (arguments, stack outputs, credentials, region, a
stack without the fault chain for `trigger`/`run`).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from drill import stack, steps
from drill.aws import account_id, as_drill_error, make_clients
from drill.errors import DrillError
from drill.investigator import DEFAULT_SINCE_MINUTES, REQUIRED_OUTPUTS
from drill.rehearsal import command as rehearsal

DESCRIPTION = """Incident drill for the aiops-demo image service.

The stack is found from --outputs FILE (JSON from `pulumi stack output --json`) or by running
`pulumi stack output --json [--stack S]`. AWS access uses boto3's standard settings: AWS_PROFILE or
keys, AWS_REGION, and AWS_ENDPOINT_URL (e.g. a local moto server)."""

EPILOG = """exit codes: 0 done, 1 the drill failed (a step missed its goal, AWS unreachable),
2 usage error (arguments, outputs, credentials, a stack without the fault chain).
`python -m drill COMMAND --help` describes each command."""

COMMAND_HELP = {
    "status": "API answer and latency, alarm states, injected fault present, image count",
    "trigger": "invoke the image function up to the alarm threshold, wait for ALARM and API 5XX",
    "investigate": "find the root cause from evidence (alarms, metrics, logs, policies, parameter, CloudTrail)",
    "restore": "remove the injected fault (fault function or directly), wait for HTTP 200",
    "run": "status -> trigger -> investigate -> restore -> status, with timings",
}
REHEARSE_HELP = "the whole story offline: the program provisioned into a local moto, then `run` (no AWS account)"
raw = argparse.RawDescriptionHelpFormatter


def positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be greater than 0")
    return number


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("stack and AWS")
    where.add_argument("--outputs", metavar="FILE", help="stack outputs JSON (`pulumi stack output --json > FILE`)")
    where.add_argument("--stack", metavar="NAME", help="Pulumi stack to read outputs from (without --outputs)")
    where.add_argument("--region", help="AWS region (default: AWS_REGION, the profile, or the API endpoint's)")
    where.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or the default chain)")

    parser = argparse.ArgumentParser(
        prog="python -m drill",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            parents=[common],
            help=COMMAND_HELP[name],
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    status = command(
        "status",
        "Probe the API and show alarm states, whether the injected fault is present "
        "and how many images the bucket holds.\nExit 0 when the API answers 200 and no "
        "fault is present, 1 otherwise.",
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of text")

    trigger = command(
        "trigger",
        "Invoke the image function as many times as the invocations alarm's threshold "
        "needs, then wait\nfor the alarm to reach ALARM (its action injects the fault) "
        "and for the API to answer 5XX.\nPrints a timeline. Needs the fault chain.",
    )
    trigger.add_argument(
        "--timeout",
        type=positive,
        default=300,
        metavar="SECONDS",
        help="give up after this long (default 300; alarms evaluate once a period)",
    )
    trigger.add_argument(
        "--interval", type=positive, default=10, metavar="SECONDS", help="seconds between polls (default 10)"
    )

    investigate = command(
        "investigate",
        "Collect evidence from every source, rank root-cause hypotheses and "
        "print a report (markdown,\nor JSON with --json). Unavailable sources "
        "are reported, not fatal. Exit 0 for fault and healthy alike.",
    )
    investigate.add_argument(
        "--since",
        type=positive,
        default=DEFAULT_SINCE_MINUTES,
        metavar="MINUTES",
        help=f"look back this many minutes (default {DEFAULT_SINCE_MINUTES})",
    )
    investigate.add_argument("--json", action="store_true", help="print the report as JSON")

    restore = command(
        "restore",
        "Remove the injected fault through the fault function's restore action (or "
        "directly from the\nbucket policy when the stack has no fault function), then "
        "wait for the API to answer 200.",
    )
    restore.add_argument(
        "--timeout", type=positive, default=120, metavar="SECONDS", help="wait this long for HTTP 200 (default 120)"
    )
    restore.add_argument(
        "--interval", type=positive, default=5, metavar="SECONDS", help="seconds between probes (default 5)"
    )

    run = command(
        "run",
        "The whole drill: status -> trigger -> investigate -> restore -> status, with the time "
        "each step took.\nRestore runs whenever trigger ran. Exit 0 only if every step did what "
        "it should.",
    )
    run.add_argument(
        "--since",
        type=positive,
        default=DEFAULT_SINCE_MINUTES,
        metavar="MINUTES",
        help=f"investigation window in minutes (default {DEFAULT_SINCE_MINUTES})",
    )
    run.add_argument(
        "--trigger-timeout",
        type=positive,
        default=300,
        metavar="SECONDS",
        help="how long trigger waits for ALARM and 5XX (default 300)",
    )
    run.add_argument(
        "--restore-timeout",
        type=positive,
        default=120,
        metavar="SECONDS",
        help="how long restore waits for HTTP 200 (default 120)",
    )
    run.add_argument(
        "--interval", type=positive, default=10, metavar="SECONDS", help="seconds between polls (default 10)"
    )
    run.add_argument("--json", action="store_true", help="print the step results as JSON")
    rehearsal.add_arguments(
        commands.add_parser("rehearse", help=REHEARSE_HELP, description=rehearsal.__doc__, formatter_class=raw)
    )
    return parser


# Outputs each command cannot work without (the fault chain is checked by the steps themselves).
NEEDED = {
    "status": (stack.BUCKET, stack.API_ENDPOINT),
    "trigger": (stack.IMAGE_FUNCTION, stack.BUCKET, stack.API_ENDPOINT),
    "investigate": REQUIRED_OUTPUTS,
    "restore": (stack.BUCKET, stack.API_ENDPOINT),
    "run": (*REQUIRED_OUTPUTS, stack.API_ENDPOINT),
}


def endpoint_region(outputs: stack.StackOutputs) -> str | None:
    match = re.search(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com", outputs.get(stack.API_ENDPOINT) or "")
    return match.group(1) if match else None


def make_drill(args: argparse.Namespace, outputs: stack.StackOutputs, err: TextIO) -> steps.Drill:
    clients = make_clients(region=args.region, profile=args.profile, fallback_region=endpoint_region(outputs))
    account = account_id(clients)  # proves credentials and endpoint before any step starts
    endpoint = outputs.get(stack.API_ENDPOINT)
    probe = steps.http_probe(endpoint) if endpoint else (lambda: steps.Probe(None, 0.0, "no ApiEndpoint output"))
    return steps.Drill(
        outputs=outputs,
        clients=clients,
        account=account,
        region=clients.region or "",
        api_probe=probe,
        function_caller=steps.lambda_caller(clients),
        progress=lambda message: print(message, file=err, flush=True),
    )


def execute(args: argparse.Namespace, drill: steps.Drill, out: TextIO) -> int:
    if args.command == "status":
        result = steps.status(drill)
        print(json.dumps(result.to_json(), indent=2) if args.json else "\n".join(result.lines), file=out)
        return 0 if result.ok else 1
    if args.command == "trigger":
        result = steps.trigger(drill, timeout=args.timeout, interval=args.interval)
        print("\n".join([*result.lines, result.summary]), file=out)
        return 0 if result.ok else 1
    if args.command == "investigate":
        result, report = steps.investigate_step(drill, since_minutes=args.since)
        print(json.dumps(report.to_json(), indent=2) if args.json else "\n".join(result.lines), file=out)
        return 0
    if args.command == "restore":
        result = steps.restore(drill, timeout=args.timeout, interval=args.interval)
        print("\n".join([*result.lines, result.summary]), file=out)
        return 0 if result.ok else 1
    outcome = steps.run(
        drill,
        since_minutes=args.since,
        trigger_timeout=args.trigger_timeout,
        restore_timeout=args.restore_timeout,
        interval=args.interval,
    )
    if args.json:
        print(json.dumps({"ok": outcome.ok, "steps": [s.to_json() for s in outcome.steps]}, indent=2), file=out)
    else:
        for step in outcome.steps:
            print(
                f"## {step.name}: {'ok' if step.ok else 'FAILED'} ({step.seconds:.1f}s)",
                *step.lines,
                "",
                sep="\n",
                file=out,
            )
        print("\n".join(outcome.table()), file=out)
    return 0 if outcome.ok else 1


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
    args = build_parser().parse_args(argv)  # exits 2 on usage errors, 0 on --help
    if args.command == "rehearse":  # brings its own stack (moto) and outputs
        return rehearsal.main(args, out, err)
    try:
        outputs = stack.load_outputs(args.outputs, args.stack, runner=runner)
        for key in NEEDED[args.command]:
            outputs.require(key)
        if args.command in ("trigger", "run"):
            steps.require_fault_chain(outputs)
        drill = make(args, outputs, err)
        return execute(args, drill, out)
    except DrillError as problem:
        print(f"drill: error: {problem}", file=err)
        return problem.exit_code
    except (ClientError, BotoCoreError, ResponseParserError) as problem:
        mapped = as_drill_error(problem)
        print(f"drill: error: {mapped}", file=err)
        return mapped.exit_code if mapped else 1
    except KeyboardInterrupt:
        print("drill: interrupted", file=err)
        return 130
