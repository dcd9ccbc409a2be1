"""The stack's plan: what `pulumi up` would create, from the program itself, run under recording mocks.

`__main__.py` runs as in the rehearsal's replica (runpy, project root as working directory, the stack's
configuration), but nothing is provisioned: each registration is recorded and answered with placeholders.
So the physical names preflight checks are the ones the components build, never a second list, and a
configuration the program refuses (a name prefix that does not fit, conflicting keys) is refused here too.
"""

from __future__ import annotations

import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from drill.outputs import INVESTIGATION_GROUP as INVESTIGATION_GROUP_OUTPUT
from drill.rehearsal.command import working_directory
from drill.rehearsal.stack_config import StackConfig

# Where each explicitly named resource type keeps its physical name, and what AWS calls that kind of name.
NAMED_TYPES = {
    "aws:lambda/function:Function": ("name", "Lambda function"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "log group"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", "alarm"),
    "aws:ssm/parameter:Parameter": ("name", "parameter"),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName", "dashboard"),
    "aws:apigateway/restApi:RestApi": ("name", "REST API"),
}
INVESTIGATION_GROUP = "aws-native:aiops:InvestigationGroup"
ACCOUNT_SETTING = "aws:apigateway/account:Account"
UNKNOWN = "<unknown until deployed>"  # a name built from another resource's id (the execution-log group)


@dataclass(frozen=True)
class PlannedName:
    kind: str  # "Lambda function", "log group", ...
    name: str


@dataclass
class Plan:
    names: list[PlannedName] = field(default_factory=list)
    types: set[str] = field(default_factory=set)
    # Every registration as `pulumi stack export` lists it ({"urn", "type", "inputs", "outputs"}): the
    # investigator's declared state when there is no Pulumi CLI (drill/declared/program.py).
    resources: list[dict[str, Any]] = field(default_factory=list)

    def creates(self, typ: str) -> bool:
        return typ in self.types


class ProgramRefused(Exception):
    """The program raised at preview (a configuration it refuses): `pulumi up` would fail the same way."""


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    account: str
    region: str
    plan: Plan

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        self.plan.types.add(args.typ)
        if args.typ in NAMED_TYPES:
            key, kind = NAMED_TYPES[args.typ]
            if isinstance(inputs.get(key), str) and UNKNOWN not in inputs[key]:
                self.plan.names.append(PlannedName(kind, inputs[key]))
        service = args.typ.split(":")[1].split("/")[0]
        # Placeholders for what the program reads back from what it created (never a name it checks).
        outputs = {
            "name": f"{args.name}-auto",
            "bucket": f"{args.name}-auto",
            "arn": f"arn:aws:{service}:{self.region}:{self.account}:{args.name}",
            "invokeArn": f"arn:aws:apigateway:{self.region}:lambda:path/{args.name}/invocations",
            "invokeUrl": f"https://{UNKNOWN}.execute-api.{self.region}.amazonaws.com/prod",
            "executionArn": f"arn:aws:execute-api:{self.region}:{self.account}:{UNKNOWN}",
            **inputs,
        }
        urn = f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{args.typ}::{args.name}"
        physical = UNKNOWN if args.typ == "aws:apigateway/restApi:RestApi" else f"{args.name}-id"
        record = {"urn": urn, "type": args.typ, "id": physical, "inputs": inputs, "outputs": outputs}
        self.plan.resources.append(record)
        if args.typ == "pulumi:pulumi:StackReference":
            # Preflight reads no other stack: the shared stack's group ARN is a placeholder in this region.
            group = f"arn:aws:aiops:{self.region}:{self.account}:investigation-group/SharedStackGroup"
            outputs.update(outputs={INVESTIGATION_GROUP_OUTPUT: group}, secretOutputNames=[])
        return physical, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        data_source = args.token
        if data_source == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": self.account, "arn": f"arn:aws:iam::{self.account}:root", "userId": "preflight"}
        if data_source == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        if data_source == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        raise NotImplementedError(f"preflight has no answer for the data source {data_source}")


def plan_stack(config: StackConfig, root: Path, account: str) -> Plan:
    """Run the program for `config` and record what it would create. Raises ProgramRefused with its message."""
    plan = Plan()
    mocks = RecordingMocks(account=account, region=config.region, plan=plan)
    pulumi.runtime.set_mocks(mocks, project=config.project, stack=config.stack, preview=False)
    pulumi.runtime.set_all_config(config.values)

    @pulumi.runtime.test
    def program() -> None:
        stack = pulumi.runtime.get_root_resource()
        stack.outputs.clear()
        runpy.run_path(str(root / "__main__.py"), run_name="__main__")

    with working_directory(root):
        try:
            program()
        except ValueError as refused:  # the program's own validation (components/config.py style)
            raise ProgramRefused(str(refused).splitlines()[-1].removeprefix("ValueError has risen: ")) from None
        except Exception as failed:  # anything else the program raised: a row that says so, not a traceback
            raise ProgramRefused(f"the program failed under preflight: {type(failed).__name__}: {failed}") from None
    plan.names.sort(key=lambda planned: (planned.kind, planned.name))
    return plan
