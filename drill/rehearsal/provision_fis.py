"""Provisioner for AWS FIS experiment templates, and the rehearsal's answer for the extension layer's public parameter.

moto (5.2.5) stores experiment templates and runs the experiment lifecycle's calls (StartExperiment,
GetExperiment, ListExperiments, StopExperiment) but runs no action: what FIS and its Lambda extension do
while an experiment runs is imitated by drill/rehearsal/fis_standin.py.
"""

from __future__ import annotations

from typing import Any

from drill.rehearsal.aws_context import Aws, Provisioner, tags_all

# The public SSM parameters under /aws/service/fis/lambda-extension/ hold the extension layer's ARN per region
# and architecture (https://docs.aws.amazon.com/fis/latest/userguide/actions-lambda-extension-arns.html).
# moto holds no public FIS parameter, and the layer could not run offline anyway: the replica answers with an
# ARN that says what it is. The in-process runtime loads no layer (the function provisioner notes it).
EXTENSION_PARAMETER_PREFIX = "/aws/service/fis/lambda-extension/"
STAND_IN_LAYER_ACCOUNT = "000000000000"


def stand_in_layer_arn(region: str, parameter: str) -> str:
    """A layer ARN labelled as the rehearsal's stand-in, for the architecture the parameter names."""
    architecture = "arm64" if "arm64" in parameter else "x86_64"
    return (
        f"arn:aws:lambda:{region}:{STAND_IN_LAYER_ACCOUNT}:layer:rehearsal-stand-in-aws-fis-extension-{architecture}:1"
    )


def extension_parameter(aws: Aws, arguments: dict[str, Any]) -> dict[str, Any] | None:
    """`aws.ssm.get_parameter` of the extension's public parameter; None for any other parameter."""
    name = str(arguments.get("name") or "")
    if not name.startswith(EXTENSION_PARAMETER_PREFIX):
        return None
    value = stand_in_layer_arn(str(arguments.get("region") or aws.region), name)
    aws.caveat(
        f"SSM public parameter {name}: answered with the stand-in layer ARN {value} (moto has no public FIS "
        "parameters; the extension itself is imitated by the rehearsal's FIS stand-in)"
    )
    return {
        "id": name,
        "name": name,
        "type": "String",
        "value": value,
        "insecureValue": value,
        "arn": f"arn:aws:ssm:{aws.region}::parameter{name}",
        "version": 1,
        "withDecryption": True,
    }


def experiment_template(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`aws.fis.ExperimentTemplate`'s inputs (lists of targets, actions and parameters) as CreateExperimentTemplate
    takes them (maps by name); the template's id is the resource's id, as the real provider reads it."""
    targets = {
        t["name"]: {
            "resourceType": t["resourceType"],
            "selectionMode": t["selectionMode"],
            **({"resourceArns": list(t["resourceArns"])} if t.get("resourceArns") else {}),
            **(
                {"resourceTags": {tag["key"]: tag["value"] for tag in t["resourceTags"]}}
                if t.get("resourceTags")
                else {}
            ),
        }
        for t in inputs.get("targets") or []
    }
    actions = {
        a["name"]: {
            "actionId": a["actionId"],
            **({"description": a["description"]} if a.get("description") else {}),
            "parameters": {p["key"]: str(p["value"]) for p in a.get("parameters") or []},
            **({"targets": {a["target"]["key"]: a["target"]["value"]}} if a.get("target") else {}),
            **({"startAfter": list(a["startAfters"])} if a.get("startAfters") else {}),
        }
        for a in inputs.get("actions") or []
    }
    request: dict[str, Any] = {
        "description": inputs.get("description", ""),
        "roleArn": inputs["roleArn"],
        "targets": targets,
        "actions": actions,
        "stopConditions": [
            {"source": c["source"], **({"value": c["value"]} if c.get("value") else {})}
            for c in inputs.get("stopConditions") or []
        ],
        "tags": tags_all(inputs),
    }
    logging = inputs.get("logConfiguration")
    if logging:
        request["logConfiguration"] = {
            "logSchemaVersion": int(logging["logSchemaVersion"]),
            **(
                {"cloudWatchLogsConfiguration": {"logGroupArn": cw["logGroupArn"]}}
                if (cw := logging.get("cloudwatchLogsConfiguration"))
                else {}
            ),
        }
    options = inputs.get("experimentOptions")
    if options:
        request["experimentOptions"] = {
            k: v for k, v in options.items() if k in ("accountTargeting", "emptyTargetResolutionMode")
        }
    created = aws.client("fis").create_experiment_template(**request)["experimentTemplate"]
    return created["id"], {"tagsAll": tags_all(inputs)}


PROVISIONERS: dict[str, Provisioner] = {
    "aws:fis/experimentTemplate:ExperimentTemplate": experiment_template,
}
