"""`python -m drill preflight [--stack S] [--json]`: what would fail in this account before `pulumi up`.

Reads `Pulumi.yaml` and `Pulumi.<stack>.yaml` as the rehearsal does, runs the program under recording mocks
to learn the stack's explicit physical names (drill/preflight/plan.py), then checks the account and region
the stack deploys to, concurrently and read-only: credentials, the investigation group, the API Gateway
account role, each explicit name, Lambda concurrency and access to the image model. One row per check (ok,
warning or blocking) with the exact fix. Exit 0 when nothing blocks, 1 when something does, 2 on a usage
error (arguments, stack file, credentials).
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from drill.aws import Clients, as_drill_error
from drill.errors import DrillError, UsageError
from drill.rehearsal.command import DEFAULT_STACK, ROOT
from drill.rehearsal.stack_config import load_stack_config

if TYPE_CHECKING:
    from drill.preflight.checks import Check
    from drill.preflight.plan import Plan

WORKERS = 8  # AWS calls are I/O: the checks overlap instead of queueing
SERVICES = ("sts", "aiops", "apigateway", "lambda", "bedrock", "logs", "cloudwatch", "ssm")
# One retry: a read that fails twice is reported as a check that could not run, not waited on with backoff.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=15)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack",
        default=DEFAULT_STACK,
        metavar="NAME",
        help=f"stack whose Pulumi.NAME.yaml configures the checks (default {DEFAULT_STACK})",
    )
    parser.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or the default chain)")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")


def preflight_clients(region: str, profile: str | None) -> Clients:
    """Clients from the standard chain, in the stack's region, that retry once."""
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as err:
        raise UsageError(str(err)) from None
    clients = Clients(session)
    for service in SERVICES:
        clients.use(service, session.client(service, config=CLIENT_CONFIG))
    return clients


def credentials(clients: Clients) -> tuple[str, Check]:
    """The caller's account; missing or rejected credentials are a usage error, as elsewhere in the drill."""
    from drill.preflight.checks import Check

    try:
        identity = clients.sts.get_caller_identity()
    except (ClientError, BotoCoreError) as err:
        mapped = as_drill_error(err)
        raise mapped if mapped else err from None
    return identity["Account"], Check("credentials", "ok", f"account {identity['Account']} as {identity['Arn']}")


def run_checks(
    stack: str, root: Path = ROOT, profile: str | None = None, clients: Clients | None = None
) -> list[Check]:
    """Every check for `stack`, in a stable order. Raises UsageError for what the operator must fix first."""
    # Imported here: the program's runtime (pulumi) loads only when the command runs, not for `--help`.
    from drill.preflight.checks import ACCOUNT_CHECKS, Check, Context, name_check
    from drill.preflight.plan import ProgramRefused, plan_stack

    config = load_stack_config(root, stack)
    clients = clients or preflight_clients(config.region, profile)
    account, identity = credentials(clients)
    planned: Future[Plan] = Future()
    ctx = Context(clients, planned, dict(config.values), config.project, config.stack, config.region, account)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        # The account checks read AWS while the program runs here (Pulumi's mocks want the main thread).
        account_rows = [pool.submit(check, ctx) for check in ACCOUNT_CHECKS]
        try:
            plan = plan_stack(config, root, account)
        except ProgramRefused as refused:
            planned.set_exception(refused)
            return [
                identity,
                Check(
                    "configuration",
                    "blocking",
                    str(refused),
                    "fix what the message names (`pulumi preview` says the same)",
                ),
            ]
        planned.set_result(plan)
        configured = Check("configuration", "ok", f"{len(plan.names)} explicit names, in {config.region}")
        name_rows = [pool.submit(name_check, ctx, name) for name in plan.names]
        return [identity, configured, *(row.result() for row in account_rows), *(row.result() for row in name_rows)]


def render(checks: list[Check]) -> str:
    width = max(len(check.name) for check in checks)
    lines = [f"{'check':<{width}}  {'status':<8}  detail"]
    for check in checks:
        lines.append(f"{check.name:<{width}}  {check.status:<8}  {check.detail}")
        if check.fix:
            lines.append(f"{'':<{width}}  {'':<8}  fix: {check.fix}")
    blocking = sum(check.status == "blocking" for check in checks)
    warnings = sum(check.status == "warning" for check in checks)
    lines.append(
        f"{blocking} blocking, {warnings} warnings: " + ("fix the blocking rows first" if blocking else "ready")
    )
    return "\n".join(lines)


def exit_code(checks: list[Check]) -> int:
    return 1 if any(check.status == "blocking" for check in checks) else 0


def main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        checks = run_checks(args.stack, profile=args.profile)
    except DrillError as problem:
        print(f"preflight: error: {problem}", file=err)
        return problem.exit_code if isinstance(problem, UsageError) else 1
    if args.json:
        print(json.dumps({"ok": exit_code(checks) == 0, "checks": [c.to_json() for c in checks]}, indent=2), file=out)
    else:
        print(render(checks), file=out)
    return exit_code(checks)
