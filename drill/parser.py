"""`python -m drill`'s arguments: every command and option (README's table lists the same)."""

from __future__ import annotations

import argparse
import math

from drill.investigator import DEFAULT_SINCE_MINUTES
from drill.preflight import command as preflight_command
from drill.region import NOT_A_REGION, is_region_name
from drill.rehearsal import command as rehearsal
from drill.scenarios.catalogue import NAMES as SCENARIO_NAMES
from drill.scenarios.catalogue import SEED
from drill.scenarios.gameday import KINDS as ROOT_CAUSE_KINDS
from drill.scenarios.traffic import MAX_DURATION_SECONDS, MAX_RPS

DESCRIPTION = """Incident drill for the aiops-demo image service.

The stack is found from --outputs FILE (JSON from `pulumi stack output --json`) or by running
`pulumi stack output --json [--stack S]`. AWS access uses boto3's standard settings: AWS_PROFILE or
keys, and AWS_ENDPOINT_URL (e.g. a local moto server). Region: --region, AWS_REGION,
AWS_DEFAULT_REGION, the profile's region, then the API endpoint's."""

EPILOG = """exit codes: 0 done, 1 the drill failed (a step missed its goal, AWS unreachable, a cleanup
that failed), 2 usage error (arguments, outputs, credentials, a stack without the fault chain),
130 interrupted (Ctrl-C or SIGTERM) and cleaned up.
`python -m drill COMMAND --help` describes each command."""

COMMAND_HELP = {
    "status": "API answer and latency, alarm states and arming, injected fault present, image count",
    "trigger": "arm the alarm, invoke the image function up to its threshold, wait for ALARM and API 5XX",
    "investigate": "find the root cause from evidence (alarms, metrics, logs, policies, parameter, CloudTrail)",
    "restore": "disarm, remove the injected fault (fault function, else directly), wait for HTTP 200, re-arm",
    "run": "status -> trigger -> investigate -> restore -> status, with timings",
    "arm": "enable the invocations alarm's actions (the fault can be injected)",
    "disarm": "disable the invocations alarm's actions (the fault cannot be injected)",
    "preflight": "read-only checks of the account before `pulumi up`: names taken, singletons, quotas, model",
    "scenarios": "the game day's catalogue: every scenario, what it changes and how it is undone",
    "inject": "record the prior state, then inject one scenario and read the change back (default: the seed's)",
    "gameday": "inject (hidden when random), wait for the symptom, take the participants' answer, investigate, "
    "restore, score",
    "traffic": "steady requests to the stack's API for a while (a partial fault shows only under traffic)",
    "rehearse": "the whole story offline: the program provisioned into a local moto, then `run` (no AWS account)",
}


# Upper bounds keep every figure a clock, a sleep or a datetime can hold: a day for any wait, and for
# --since CloudTrail's event history (90 days), the longest any evidence source looks back.
MAX_SECONDS = 24 * 3600
MAX_SINCE_MINUTES = 90 * 24 * 60


def positive(limit: float):
    """An argparse type: a finite number greater than 0 and at most `limit` (nan, inf and 1e400 are not)."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
        if not math.isfinite(number) or not 0 < number <= limit:
            raise argparse.ArgumentTypeError(f"{value!r} must be a number greater than 0 and at most {limit:g}")
        return number

    parse.__name__ = "number"  # argparse names the type in its own messages
    return parse


def region_name(value: str) -> str:
    if not is_region_name(value):
        raise argparse.ArgumentTypeError(f"{value!r} {NOT_A_REGION}")  # argparse names the option itself
    return value


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line on stderr and exit 2 (`--help` still prints the whole usage)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _since(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument(
        "--since",
        type=positive(MAX_SINCE_MINUTES),
        default=DEFAULT_SINCE_MINUTES,
        metavar="MINUTES",
        help=f"{text} (default {DEFAULT_SINCE_MINUTES})",
    )


def _seconds(parser: argparse.ArgumentParser, flag: str, default: float, text: str) -> None:
    parser.add_argument(
        flag, type=positive(MAX_SECONDS), default=default, metavar="SECONDS", help=f"{text} (default {default:g})"
    )


def _restore_options(parser: argparse.ArgumentParser, flag: str) -> None:
    _seconds(parser, flag, 120, "how long restore waits for HTTP 200 and for a safe moment to re-arm")


def _scenario_commands(command) -> None:
    """The game day's commands (drill/scenarios)."""
    command("scenarios", "List every scenario of the game day's catalogue (no stack or AWS needed).")
    inject = command(
        "inject",
        "Write the exact prior state of what the scenario changes to the drill's record (a table of the\n"
        "stack), then make the change and read it back; it does not wait for symptoms. Direct scenarios\n"
        "disarm the invocations alarm while active. The same scenario twice is recorded once; several\n"
        "scenarios may be active at once. `restore` undoes them all, newest first.",
    )
    inject.add_argument(
        "--scenario",
        choices=SCENARIO_NAMES,
        default=SEED,
        metavar="NAME",
        help=(f"one of {', '.join(SCENARIO_NAMES)} (default {SEED})"),
    )
    _seconds(inject, "--timeout", 120, "how long the seed's scenario waits for the fault's statements")
    _seconds(inject, "--interval", 5, "seconds between polls")
    game = command(
        "gameday",
        "Inject a scenario (hidden with `random`), wait for the symptom, show what participants see, ask\n"
        "for their answer (or take --answer), run the investigator, reveal the truth, restore, and print\n"
        "the scorecard. A timeout, an error, Ctrl-C or SIGTERM restores.",
        json_help="print the scorecard as JSON",
    )
    game.add_argument(
        "--scenario", choices=(*SCENARIO_NAMES, "random"), default="random", metavar="NAME", help="a scenario or random"
    )
    game.add_argument("--answer", choices=ROOT_CAUSE_KINDS, metavar="KIND", help="the participants' answer (no prompt)")
    _seconds(game, "--timeout", 300, "how long to wait for the injection and the symptom (a FIS scenario's: its alarm)")
    _seconds(game, "--interval", 10, "seconds between polls")
    _since(game, "investigation window in minutes")
    _restore_options(game, "--restore-timeout")
    traffic = command(
        "traffic",
        "Send --rps requests a second to the stack's API for --duration seconds, with a progress line, then\n"
        "print the requests, their status counts and latency p50/p99. The invocations alarm is disarmed\n"
        "while it runs (the traffic never injects the seed's fault) and its arming is put back after by the\n"
        "re-arm rule, also after Ctrl-C or SIGTERM.",
    )
    traffic.add_argument(
        "--rps", type=positive(MAX_RPS), required=True, metavar="N", help=f"requests a second (at most {MAX_RPS:g})"
    )
    traffic.add_argument(
        "--duration",
        type=positive(MAX_DURATION_SECONDS),
        required=True,
        metavar="SECONDS",
        help=f"how long (at most {MAX_DURATION_SECONDS:g})",
    )
    _seconds(traffic, "--rearm-timeout", 120, "how long to wait afterwards for a safe moment to re-arm")


def build_parser() -> argparse.ArgumentParser:
    common = OneLineParser(add_help=False)
    where = common.add_argument_group("stack and AWS")
    where.add_argument("--outputs", metavar="FILE", help="stack outputs JSON (`pulumi stack output --json > FILE`)")
    where.add_argument("--stack", metavar="NAME", help="Pulumi stack to read outputs from (without --outputs)")
    where.add_argument(
        "--region",
        type=region_name,
        help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, or the API endpoint's)",
    )
    where.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or the default chain)")

    parser = OneLineParser(
        prog="python -m drill",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=OneLineParser)

    def command(name: str, description: str, *, json_help: str | None = "print JSON instead of text"):
        sub = commands.add_parser(
            name,
            parents=[common],
            help=COMMAND_HELP[name],
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if json_help:
            sub.add_argument("--json", action="store_true", help=json_help)
        return sub

    command(
        "status",
        "Probe the API and show alarm states, whether the invocations alarm is armed, whether the\n"
        "injected fault is present and how many images the bucket holds.\n"
        "Exit 0 when the API answers 200 and no fault is present, 1 otherwise.",
    )
    trigger = command(
        "trigger",
        "Arm the invocations alarm if needed, invoke the image function as many times as its threshold\n"
        "needs (only successful invocations count), then wait for the alarm to reach ALARM (its action\n"
        "injects the fault) and for the API to answer 5XX. Prints a timeline. Needs the fault chain.\n"
        "If it does not get there (timeout, error, Ctrl-C, SIGTERM) it restores and prints the steps.",
    )
    trigger.add_argument(
        "--scenario",
        choices=SCENARIO_NAMES,
        metavar="NAME",
        help="inject this game-day scenario instead, then wait for its symptom (see `scenarios`)",
    )
    _seconds(trigger, "--timeout", 300, "give up after this long; alarms evaluate once a period")
    _seconds(trigger, "--interval", 10, "seconds between polls")
    _restore_options(trigger, "--restore-timeout")

    investigate = command(
        "investigate",
        "Collect evidence from every source, rank root-cause hypotheses and print a report (markdown,\n"
        "or JSON with --json). Unavailable sources are reported, not fatal. Exit 0 for fault and healthy.",
        json_help="print the report as JSON",
    )
    _since(investigate, "look back this many minutes")

    restore = command(
        "restore",
        "Disarm the invocations alarm, remove the injected fault through the fault function's restore\n"
        "action (directly from the bucket policy when that fails or the stack has none), read the policy\n"
        "back, wait for HTTP 200, then re-arm once the alarm is OK and no breaching period is left to\n"
        "evaluate. If that moment does not come in time the alarm stays disarmed (exit 0 all the same\n"
        "when the fault is gone) and the command that arms it is printed.",
    )
    _restore_options(restore, "--timeout")
    _seconds(restore, "--interval", 5, "seconds between probes")
    restore.add_argument(
        "--force", action="store_true", help="also put back a recorded scenario whose resource was changed since"
    )
    _scenario_commands(command)

    run = command(
        "run",
        "The whole drill: status -> trigger -> investigate -> restore -> status, with the time each step\n"
        "took. Restore runs whenever trigger started (timeout, error, Ctrl-C and SIGTERM included).\n"
        "Exit 0 only if every step did what it should.",
        json_help="print the step results as JSON",
    )
    _since(run, "investigation window in minutes")
    run.add_argument(
        "--scenario",
        choices=SCENARIO_NAMES,
        metavar="NAME",
        help="a game-day scenario as the fault; investigate is marked hit or miss against its kind",
    )
    _seconds(run, "--trigger-timeout", 300, "how long trigger waits for ALARM and 5XX")
    _restore_options(run, "--restore-timeout")
    _seconds(run, "--interval", 10, "seconds between polls")

    for name, verb in (("arm", "enable"), ("disarm", "disable")):
        command(
            name,
            f"{verb.capitalize()} the invocations alarm's actions (as `aws cloudwatch {verb}-alarm-actions` does).\n"
            "`pulumi up` sets them back to the faultArmed config; `pulumi refresh` shows the change as drift.",
            json_help=None,
        )
    # Brings its own stack (the program provisioned into moto), so none of the common stack/AWS options.
    rehearsal.add_arguments(
        commands.add_parser(
            "rehearse",
            help=COMMAND_HELP["rehearse"],
            description=rehearsal.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    preflight_command.add_arguments(  # reads the stack's config files and the account, not its outputs
        commands.add_parser(
            "preflight",
            help=COMMAND_HELP["preflight"],
            description=preflight_command.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    return parser
