"""The replica: the Pulumi program itself, run under mocks that provision every resource into moto.

`deploy` runs `__main__.py` as `pulumi up` would (runpy, project root as working directory, the stack's
configuration) under `pulumi.runtime.set_mocks(..., preview=False)`. Each registration reaches
`ProvisioningMocks.new_resource`, which dispatches on the type token to a provisioner that makes the
resource in moto and answers with moto's ids and ARNs; the program reads those back exactly as it
would read AWS's. Types without a provisioner (the investigation group, Application Signals,
...) are listed as skipped with a reason and get placeholder outputs, never dropped silently.

Providers are not provisioned, but what they declare is applied: the replica records each provider's
default tags and region, and merges the default tags into the inputs of every resource that provider
manages whose type takes tags (the type has a `tags_all` output, as the real aws provider does), the
resource's own tags on top (https://hashicorp.com/blog/default-tags-in-the-terraform-aws-provider:
resource tags take precedence). A provider in another region than the replica's is a caveat.

Driving the mocks runtime outside pytest: `pulumi.runtime.test` is a plain decorator. It runs the
function inside `run_pulumi_func`, which waits for every outstanding registration RPC
(`wait_for_rpcs`) before it returns, so when the decorated call returns the whole program has been
provisioned; the stack outputs (the root resource's outputs, as tests/conftest.py `run_program` reads
them) are collected by an `apply` on the returned Output.
"""

from __future__ import annotations

import functools
import importlib
import json
import keyword
import logging
import runpy
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from drill.errors import DrillError
from drill.rehearsal import provision_api, provision_compute, provision_fis, provision_storage
from drill.rehearsal.aws_context import Aws, Provisioner, Skip
from drill.rehearsal.stack_config import StackConfig

PROVISIONERS: dict[str, Provisioner] = {
    **provision_storage.PROVISIONERS,
    **provision_compute.PROVISIONERS,
    **provision_api.PROVISIONERS,
    **provision_fis.PROVISIONERS,
}
WHY_SKIPPED = {
    "aws-native:aiops:InvestigationGroup": "CloudWatch investigations are not in moto; the 5XX alarm's action "
    "is reported, not run (the drill's own investigator runs instead)",
    "aws-native:applicationsignals:Discovery": "Application Signals is not in moto",
}


class ProvisioningError(DrillError):
    """A resource could not be made in moto (or the rehearsal is stopping): the rehearsal fails."""


@dataclass
class Replica:
    outputs: dict[str, Any]
    provisioned: list[dict[str, str]]
    skipped: list[dict[str, str]]
    providers: list[dict[str, Any]] = field(default_factory=list)  # type, name, region, default_tags


@functools.cache
def taggable(token: str) -> bool:
    """Whether the aws provider applies its default tags to this type: the SDK class has a `tags_all` output."""
    package, module, kind = (token.split(":") + ["", ""])[:3]
    if package != "aws":
        return False  # aws-native merges default tags too, but no aws-native type is provisioned here
    name = module.split("/")[0]
    try:
        sdk = importlib.import_module(f"pulumi_aws.{name}_" if keyword.iskeyword(name) else f"pulumi_aws.{name}")
    except ImportError:
        return False
    return hasattr(getattr(sdk, kind, None), "tags_all")


def provider_settings(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """What a provider declares that the replica applies: its region and its default tags."""
    raw = inputs.get("defaultTags")
    declared = json.loads(raw) if isinstance(raw, str) else raw or {}  # the engine hands provider config as JSON
    tags = declared.get("tags") if isinstance(declared, dict) else None
    return {
        "type": typ,
        "name": name,
        "region": inputs.get("region"),
        "default_tags": {str(k): str(v) for k, v in (tags or {}).items()},
        "tagged": 0,  # resources it manages that got its default tags
    }


@dataclass
class ProvisioningMocks(pulumi.runtime.Mocks):
    aws: Aws
    provisioned: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)  # by the id the replica gave the provider

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        if self.aws.stopping.is_set():
            raise ProvisioningError(f"interrupted before {args.typ} {args.name} was provisioned")
        if not args.custom:  # a component: nothing to provision
            return args.name, inputs
        if args.typ.startswith("pulumi:providers:"):
            return self.provider(args.typ, args.name, inputs), inputs
        if taggable(args.typ):
            inputs["tagsAll"] = {**self.default_tags(args.provider), **(inputs.get("tags") or {})}
        provisioner = PROVISIONERS.get(args.typ)
        reason = WHY_SKIPPED.get(args.typ)
        if provisioner is None and reason is None:
            reason = "no moto provisioner for this type"
        if provisioner is not None:
            try:
                resource_id, outputs = provisioner(self.aws, args.name, inputs)
            except Skip as skip:
                reason = str(skip)
            except Exception as err:
                raise ProvisioningError(f"provisioning {args.typ} {args.name} into moto failed: {err}") from err
            else:
                if "tagsAll" in inputs and "tagsAll" not in outputs:
                    self.aws.caveat(f"{args.typ} {args.name}: its tags are not applied in moto")
                elif "tagsAll" in inputs:
                    self.count_tagged(args.provider)
                with self.aws.lock:
                    self.provisioned.append({"type": args.typ, "name": args.name, "id": resource_id})
                return resource_id, {**inputs, **outputs}
        with self.aws.lock:
            self.skipped.append({"type": args.typ, "name": args.name, "reason": reason})
        return f"{args.name}-not-provisioned", {**inputs, **self.placeholder(args.typ, args.name)}

    def provider(self, typ: str, name: str, inputs: dict[str, Any]) -> str:
        """Record a provider's settings; its id is how the resources it manages refer to it."""
        settings = provider_settings(typ, name, inputs)
        region = settings["region"]
        if region and region != self.aws.region:
            self.aws.caveat(
                f"provider {name} declares region {region}; the replica holds everything in {self.aws.region}"
            )
        provider_id = f"{name}-{uuid.uuid4().hex[:8]}"
        with self.aws.lock:
            self.providers[provider_id] = settings
        return provider_id

    def default_tags(self, reference: str | None) -> dict[str, str]:
        """The default tags of the provider a resource refers to ("<urn>::<id>"); none without a provider."""
        provider_id = (reference or "").rsplit("::", 1)[-1]
        with self.aws.lock:
            settings = self.providers.get(provider_id)
        return dict(settings["default_tags"]) if settings else {}

    def count_tagged(self, reference: str | None) -> None:
        with self.aws.lock:
            settings = self.providers.get((reference or "").rsplit("::", 1)[-1])
            if settings is not None:
                settings["tagged"] += 1

    def placeholder(self, typ: str, name: str) -> dict[str, Any]:
        """An ARN in the right service, so the program can still wire a skipped resource into others."""
        service = typ.split(":")[1].split("/")[0]
        kind = typ.rsplit(":", 1)[-1]
        kind = kind[0].lower() + "".join(f"-{c.lower()}" if c.isupper() else c for c in kind[1:])
        return {"arn": self.aws.arn(service, f"{kind}/{name}")}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        data_source = args.token
        if data_source == "aws:index/getCallerIdentity:getCallerIdentity":
            identity = self.aws.client("sts").get_caller_identity()
            return {"accountId": identity["Account"], "arn": identity["Arn"], "userId": identity["UserId"]}
        if data_source == "aws:index/getRegion:getRegion":
            return {"name": self.aws.region, "region": self.aws.region, "id": self.aws.region}
        if data_source == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if data_source == "aws:ssm/getParameter:getParameter":  # the FIS extension's public layer parameter
            answer = provision_fis.extension_parameter(self.aws, dict(args.args))
            if answer is not None:
                return answer
        raise NotImplementedError(f"the rehearsal has no answer for the data source {data_source}")


def engine_log() -> logging.Logger:
    """Where the program's `pulumi.log` warnings go: stderr, as `pulumi up` shows them (not the root logger,
    whose records belong to the Lambda runtime while a handler runs)."""
    logger = logging.getLogger("drill.rehearsal.pulumi")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("rehearse: pulumi %(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    return logger


def deploy(aws: Aws, config: StackConfig, root: Path) -> Replica:
    """Run the program under provisioning mocks; the working directory must already be `root`."""
    mocks = ProvisioningMocks(aws)
    pulumi.runtime.set_mocks(mocks, project=config.project, stack=config.stack, preview=False, logger=engine_log())
    pulumi.runtime.set_all_config(config.values)
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        stack = pulumi.runtime.get_root_resource()
        stack.outputs.clear()
        runpy.run_path(str(root / "__main__.py"), run_name="__main__")
        return pulumi.Output.all(**stack.outputs).apply(outputs.update)

    program()
    order = lambda entry: (entry["type"], entry["name"])  # noqa: E731 (registrations finish in any order)
    return Replica(
        outputs=outputs,
        provisioned=sorted(mocks.provisioned, key=order),
        skipped=sorted(mocks.skipped, key=order),
        providers=sorted(mocks.providers.values(), key=order),
    )
