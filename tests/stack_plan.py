"""The drill tests' stack, derived from the program: the replica's boto3 calls, recorded once, replayed per stack.

`record` runs the rehearsal's replica of `pulumi up` (drill/rehearsal/replica.py `deploy`: `__main__.py`
under mocks whose provisioners make every resource in moto) against an in-process moto, and keeps every
call its provisioners make, with moto's answer. That takes seconds (the Pulumi runtime, the program), so a
test session does it once, in a subprocess of its own (`python tests/stack_plan.py FILE`: the Pulumi
runtime's global state stays out of the test processes), usually in the background while other tests
run (see conftest.py). `replay` then makes one stack from the plan in a few dozen calls, under any
prefix, against a moto server or the in-process moto; many stacks can share one moto.

Replaying renames what must differ between stacks in one account: the prefix (`<project>-<stack>`, the
program's explicit names), Pulumi's auto-names (`<resource name>-<7 hex>`: buckets, roles, policies,
statement ids), and the ids moto makes up (API, resource and deployment ids, role ids), learnt from
each answer as it comes.
"""

from __future__ import annotations

import os
import pickle
import re
import secrets
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rehearsal_run

ROOT = Path(__file__).resolve().parent.parent
FOLDER_VARIABLE = "AIOPS_TEST_STACK_PLAN_DIR"  # the background recording's folder (tests/rehearsal_run.py)
FILE = "plan.pickle"
TIMEOUT_SECONDS = 300.0  # a hung recording fails the tests that need it, not the whole session's patience
PROJECT = "aiops-demo"
RECORDED_STACK = "recordedstack"  # a stack name found nowhere else, so renaming it is unambiguous
REGION = "us-west-2"
VARIANTS = {"full": {}, "no_fault_chain": {f"{PROJECT}:faultInjectionEnabled": "false"}}
READS = ("get_", "describe_", "list_")  # the provisioners read ARNs back: nothing to make on replay
AUTONAME = re.compile(r"[0-9a-f]{7}")


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict[str, Any]
    response: dict[str, Any]


@dataclass
class Plan:
    """One `pulumi up` of the program, as the boto3 calls that made it in moto."""

    stack: str
    calls: list[Call]
    outputs: dict[str, Any]
    autonames: dict[str, str]  # physical name Pulumi generated -> the resource name it was made from
    declared: dict[str, dict[str, Any]] = field(default_factory=dict)  # "type name" -> inputs, as declared

    def declared_input(self, typ: str, key: str) -> Any:
        """The one input `key` of the one resource of type `typ` (e.g. the bucket policy's document)."""
        [value] = [inputs[key] for name, inputs in self.declared.items() if name.split(" ")[0] == typ]
        return value


# ------------------------------------------------------------------------------------------ record
class RecordingClient:
    """A boto3 client whose calls (keyword arguments, as the provisioners make them) are kept with moto's answer."""

    def __init__(self, service: str, client: Any, calls: list[Call]) -> None:
        self._service, self._client, self._calls = service, client, calls

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(**params: Any) -> Any:
            response = attribute(**params)
            self._calls.append(Call(self._service, name, params, response))
            return response

        return call


class NoRuntime:
    """The replica's Lambda runtime, without running anything: the test stacks get their images from the tests."""

    def register(self, spec: Any) -> None:
        pass

    def invoke(self, name: str, event: Any) -> dict[str, str]:
        return {"status": "skipped", "reason": "the test stack's images are written by each test"}


def record(session: Any, values: dict[str, str]) -> Plan:
    """Deploy the program (stack RECORDED_STACK, Pulumi.dev.yaml plus `values`) into a fresh in-process moto;
    `session` is a boto3 session made inside moto's patch (shared: each one parses the service models again)."""
    from moto import mock_aws

    from drill.rehearsal import replica
    from drill.rehearsal.aws_context import SERVICES, Aws
    from drill.rehearsal.stack_config import StackConfig, load_stack_config

    dev = load_stack_config(ROOT, "dev")
    config = StackConfig(project=dev.project, stack=RECORDED_STACK, values={**dev.values, **values})
    calls: list[Call] = []
    autonames: dict[str, str] = {}
    declared: dict[str, dict[str, Any]] = {}

    def recorded(typ: str, provisioner: Callable) -> Callable:
        def provision(aws: Any, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            declared[f"{typ} {name}"] = {k: v for k, v in inputs.items() if isinstance(v, str | int | float | bool)}
            resource_id, outputs = provisioner(aws, name, inputs)
            for physical in (resource_id, *(v for v in outputs.values() if isinstance(v, str))):
                if physical.startswith(f"{name}-") and AUTONAME.fullmatch(physical.removeprefix(f"{name}-")):
                    autonames[physical] = name
            return resource_id, outputs

        return provision

    # The replica looks its provisioners up by type in this module-level table: wrapped for this deploy only.
    provisioners = replica.PROVISIONERS
    replica.PROVISIONERS = {typ: recorded(typ, p) for typ, p in provisioners.items()}
    try:
        with mock_aws():
            clients = {s: RecordingClient(s, session.client(s), calls) for s in SERVICES}
            account = session.client("sts").get_caller_identity()["Account"]
            aws = Aws(clients=clients, region=config.region, account=account, runtime=NoRuntime(), root=ROOT)
            deployed = replica.deploy(aws, config, ROOT)
    finally:
        replica.PROVISIONERS = provisioners
    return Plan(stack=RECORDED_STACK, calls=calls, outputs=deployed.outputs, autonames=autonames, declared=declared)


def main(path: str) -> None:
    """Record every variant into `path` (written whole, then renamed: a reader never sees half a plan)."""
    os.chdir(ROOT)  # as `pulumi up` runs the program: function code paths are relative to the project
    sys.path.insert(0, str(ROOT))
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION)
    import boto3
    from moto import mock_aws

    with mock_aws():  # moto's request hooks join a session made under its patch, and stay for later patches
        session = boto3.Session(region_name=REGION)
    plans = {variant: record(session, values) for variant, values in VARIANTS.items()}
    partial = Path(f"{path}.partial")
    partial.write_bytes(pickle.dumps(plans))
    partial.replace(path)


def start(folder: Path) -> subprocess.Popen:
    """Record into `folder` in the background (tests/rehearsal_run.py: output, exit code), `folder`/FILE."""
    return rehearsal_run.start_command(folder, [sys.executable, str(Path(__file__)), str(folder / FILE)])


def load(path: Path) -> dict[str, Plan]:
    return pickle.loads(path.read_bytes())  # noqa: S301 (our own file, written by main above in this session)


# ------------------------------------------------------------------------------------------ replay
class Renames:
    """Recorded value -> this stack's value, applied to every string (inside ARNs and JSON documents too)."""

    def __init__(self, pairs: dict[str, str]) -> None:
        self.pairs = dict(pairs)
        self._pattern: re.Pattern[str] | None = None

    def add(self, old: str, new: str) -> None:
        """Rename `old` to `new` from now on, unless the renames made so far already do."""
        if old not in self.pairs and self.apply(old) != new:
            self.pairs[old] = new
            self._pattern = None

    def apply(self, value: Any) -> Any:
        if isinstance(value, str):
            if self._pattern is None:  # longest first: a name is renamed whole, not by a shorter part of it
                alternatives = sorted(self.pairs, key=len, reverse=True)
                self._pattern = re.compile("|".join(map(re.escape, alternatives)))
            return self._pattern.sub(lambda found: self.pairs[found.group(0)], value)
        if isinstance(value, dict):
            return {k: self.apply(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.apply(v) for v in value]
        return value

    def learn(self, recorded: Any, answered: Any, key: str = "") -> None:
        """The ids and ARNs moto made up this time, in place of those it made while recording."""
        if isinstance(recorded, dict) and isinstance(answered, dict):
            for name in recorded.keys() & answered.keys() - {"ResponseMetadata"}:
                self.learn(recorded[name], answered[name], name)
        elif isinstance(recorded, list) and isinstance(answered, list):
            for old, new in zip(recorded, answered, strict=False):
                self.learn(old, new, key)
        elif isinstance(recorded, str) and isinstance(answered, str) and key.lower().endswith(("id", "arn")):
            self.add(recorded, answered)


def stack_renames(plan: Plan, prefix: str) -> Renames:
    stack = prefix.removeprefix(f"{PROJECT}-")  # the Stack tag's value (the prefix is <project>-<stack>)
    pairs = {f"{PROJECT}-{plan.stack}": prefix, plan.stack: stack}
    pairs |= {physical: f"{name}-{secrets.token_hex(4)[:7]}" for physical, name in plan.autonames.items()}
    return Renames(pairs)


def replay(plan: Plan, clients: dict[str, Any], prefix: str) -> tuple[dict[str, Any], Renames]:
    """Make the recorded stack again under `prefix` with `clients`; its outputs, and the renames used."""
    renames = stack_renames(plan, prefix)
    for call in plan.calls:
        if call.operation.startswith(READS):
            continue
        answered = getattr(clients[call.service], call.operation)(**renames.apply(call.params))
        renames.learn(call.response, answered)
    return renames.apply(plan.outputs), renames


if __name__ == "__main__":
    import stack_plan  # this file again, by its module name: the pickled classes must be importable by it

    stack_plan.main(sys.argv[1])
