"""The bucket-name parameter as a scenario state: value, type, description, tier, data type and tags
(everything PutParameter takes), or None when it does not exist."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from drill import stack
from drill.aws import error_code
from drill.scenarios.model import State
from drill.steps.model import Drill

WRONG_BUCKET_SUFFIX = "-gameday-missing"


def parameter_name(drill: Drill) -> str:
    return drill.outputs.require(stack.PARAMETER)


def read_parameter(drill: Drill) -> State:
    ssm, name = drill.clients.ssm, parameter_name(drill)
    try:
        found = ssm.get_parameter(Name=name)["Parameter"]
    except ClientError as err:
        if error_code(err) == "ParameterNotFound":
            return None
        raise
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"]
    details = described[0] if described else {}
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name).get("TagList", [])
    return {
        "Value": found["Value"],
        "Type": found["Type"],
        "DataType": found.get("DataType", "text"),
        "Description": details.get("Description"),
        "Tier": details.get("Tier", "Standard"),
        "Tags": sorted(({"Key": t["Key"], "Value": t["Value"]} for t in tags), key=lambda t: t["Key"]),
    }


def _put_arguments(name: str, state: dict[str, Any]) -> dict[str, Any]:
    arguments = {"Name": name, "Value": state["Value"], "Type": state["Type"], "DataType": state["DataType"]}
    arguments["Tier"] = state["Tier"]
    if state.get("Description"):
        arguments["Description"] = state["Description"]
    return arguments


def write_parameter(drill: Drill, current: State, wanted: State) -> None:
    ssm, name = drill.clients.ssm, parameter_name(drill)
    if wanted is None:
        ssm.delete_parameter(Name=name)
    elif current is None:  # created again: tags can only be given at creation
        ssm.put_parameter(**_put_arguments(name, wanted), **({"Tags": wanted["Tags"]} if wanted["Tags"] else {}))
    else:
        ssm.put_parameter(**_put_arguments(name, wanted), Overwrite=True)


def wrong_bucket(drill: Drill, prior: State) -> State:
    """The same parameter naming a bucket that does not exist (a valid bucket name, at most 63 characters)."""
    bucket = drill.outputs.require(stack.BUCKET)
    return {**prior, "Value": bucket[: 63 - len(WRONG_BUCKET_SUFFIX)] + WRONG_BUCKET_SUFFIX}
