"""The state the catalogue's scenarios touch, read field by field, and what differs between two readings.

Issue 19's "exactly as before": the bucket policy and objects, the parameter's value and type (and its
description, tier and tags), the image role's inline and attached policies and boundary, the image
function's role, environment, timeout, memory and layers, its reserved concurrency and resource policy,
the stage's method settings, every alarm's actions, the roles and customer-managed policies there are
(none left over) and the drill's record (empty again after a restore). On a stack with FIS: the experiments
not yet ended (none running after a restore) and the configuration objects under FisConfigurationLocation
(none left). Absent resources read as None.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from drill import stack
from drill.outputs import FIS_CONFIGURATION_LOCATION, RECORD_TABLE, REST_API_ID
from drill.scenarios import fis
from drill.scenarios.role import role_name
from drill.scenarios.stage import STAGE
from drill.steps.model import Drill

FUNCTION_FIELDS = ("Role", "Environment", "Timeout", "MemorySize", "Layers")
ABSENT = {  # the error code that means "there is none", per read
    "bucket_policy": "NoSuchBucketPolicy",
    "parameter": "ParameterNotFound",
    "parameter_tags": "InvalidResourceId",
    "function_policy": "ResourceNotFoundException",
}


def _absent_is_none(field: str, read: Callable[[], Any]) -> Any:
    try:
        return read()
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == ABSENT[field]:
            return None
        raise


def snapshot(drill: Drill) -> dict[str, Any]:
    out, clients = drill.outputs, drill.clients
    s3, ssm, iam, lam = clients.s3, clients.ssm, clients.iam, clients.lambda_
    bucket, parameter, function = (
        out.require(stack.BUCKET),
        out.require(stack.PARAMETER),
        out.require(stack.IMAGE_FUNCTION),
    )
    role = role_name(drill)
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    config = lam.get_function_configuration(FunctionName=function)
    found_parameter = _absent_is_none("parameter", lambda: ssm.get_parameter(Name=parameter)["Parameter"])
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [parameter]}])["Parameters"]
    alarms = clients.cloudwatch.describe_alarms()["MetricAlarms"]
    stage = clients.client("apigateway").get_stage(restApiId=out.require(REST_API_ID), stageName=STAGE)
    return {
        "bucket_policy": _absent_is_none(
            "bucket_policy", lambda: json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        ),
        "objects": sorted((o["Key"], o["ETag"], o["Size"]) for o in listed),
        "parameter": found_parameter and {k: found_parameter.get(k) for k in ("Value", "Type", "DataType")},
        "parameter_details": [{k: p.get(k) for k in ("Description", "Tier", "Type")} for p in described],
        "parameter_tags": sorted(
            (t["Key"], t["Value"])
            for t in _absent_is_none(
                "parameter_tags",
                lambda: ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=parameter)["TagList"],
            )
            or []
        ),
        "role_inline": {
            name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        },
        "role_attached": sorted(
            p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        ),
        "role_boundary": iam.get_role(RoleName=role)["Role"].get("PermissionsBoundary"),
        "function": {k: config.get(k) for k in FUNCTION_FIELDS},
        "concurrency": lam.get_function_concurrency(FunctionName=function).get("ReservedConcurrentExecutions"),
        "function_policy": _absent_is_none(
            "function_policy",
            lambda: sorted(
                json.loads(lam.get_policy(FunctionName=function)["Policy"])["Statement"], key=lambda s: s["Sid"]
            ),
        ),
        "method_settings": stage.get("methodSettings") or {},
        "alarms": {
            a["AlarmName"]: {k: a.get(k) for k in ("ActionsEnabled", "AlarmActions", "OKActions")} for a in alarms
        },
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "policies": sorted(p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]),
        "records": clients.client("dynamodb").scan(TableName=out.require(RECORD_TABLE))["Items"],
        **experiments(drill),
    }


def experiments(drill: Drill) -> dict[str, Any]:
    """FIS's part of the state, on a stack with FIS: experiments not ended (every one, not only the drill's)
    and the configuration objects the extension reads. A stopped experiment stays listed by FIS: it is no
    difference."""
    if not drill.outputs.get(FIS_CONFIGURATION_LOCATION):
        return {}
    listed, kwargs = [], {}
    while True:
        page = drill.clients.client("fis").list_experiments(**kwargs)
        listed += page.get("experiments", [])
        if not page.get("nextToken"):
            break
        kwargs = {"nextToken": page["nextToken"]}
    return {
        "experiments_not_ended": sorted(
            (e["id"], e["state"]["status"]) for e in listed if e["state"]["status"] not in fis.ENDED
        ),
        "fis_configuration": sorted(fis.configuration_objects(drill)),
    }


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every field whose value differs, with both values (JSON data: tuples compare as lists)."""
    plain = lambda value: json.loads(json.dumps(value, default=str))  # noqa: E731
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted({*before, *after})
        if plain(before.get(key)) != plain(after.get(key))
    }
