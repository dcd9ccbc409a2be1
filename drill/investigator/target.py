"""Resolve the stack's outputs into the resources the collectors look at."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from drill import outputs as contract
from drill.aws import FATAL_ERRORS, SOURCE_ERRORS, Clients, error_code
from drill.investigator.model import Target

# The alarms the investigator reads, by purpose; their names are stack outputs (drill/outputs.py).
OUTPUT_ALARMS = {
    "invocations": contract.INVOCATIONS_ALARM,
    "api_5xx": contract.API_5XX_ALARM,
    "errors": contract.ERRORS_ALARM,
    "latency": contract.LATENCY_ALARM,
}
# The stack's FIS experiment templates, by the kind of fault they inject (absent when fisEnabled=false).
OUTPUT_FIS_TEMPLATES = {"latency": contract.FIS_LATENCY_TEMPLATE, "errors": contract.FIS_ERRORS_TEMPLATE}
# Every other output is read with .get(): a stack deployed before it (or without the fault chain) still works.
REQUIRED_OUTPUTS = (contract.BUCKET, contract.IMAGE_FUNCTION, contract.PARAMETER)


def _function_role(clients: Clients, function_name: str, notes: dict[str, str]) -> tuple[str | None, str | None]:
    """The role the function runs under now, and its unique id (for aws:userid conditions)."""
    role_arn = role_id = None
    try:
        role_arn = clients.lambda_.get_function_configuration(FunctionName=function_name)["Role"]
    except FATAL_ERRORS:
        raise
    except SOURCE_ERRORS as err:
        notes["role_arn"] = f"lambda:GetFunctionConfiguration on {function_name} failed: {error_code(err)}"
    if role_arn:
        try:
            role_id = clients.iam.get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]["RoleId"]
        except FATAL_ERRORS:
            raise
        except SOURCE_ERRORS as err:
            notes["role_id"] = f"iam:GetRole failed: {error_code(err)}"
    return role_arn, role_id


def _api(
    clients: Clients, alarms: dict[str, str], declared_name: str | None, rest_api_id: str | None, notes: dict[str, str]
) -> tuple[str | None, str, str | None]:
    """(API name, stage, REST API id). The name is the RestApiName output; for a stack deployed before it, the
    5XX alarm's dimensions (which name the API exactly). Without the RestApiId output the id is looked up by
    that name."""
    api_name, api_stage = declared_name, "prod"
    if "api_5xx" in alarms:
        try:
            found = clients.cloudwatch.describe_alarms(AlarmNames=[alarms["api_5xx"]])["MetricAlarms"]
            dims = {d["Name"]: d["Value"] for d in (found[0].get("Dimensions", []) if found else [])}
            api_name = api_name or dims.get("ApiName")
            api_stage = dims.get("Stage", api_stage)
        except FATAL_ERRORS:
            raise
        except SOURCE_ERRORS as err:
            notes["api_name"] = f"cloudwatch:DescribeAlarms failed ({error_code(err)})"
    if api_name is None:
        notes.setdefault("api_name", f"no stack output {contract.REST_API_NAME} and no 5XX alarm naming the API")
    if rest_api_id:
        return api_name, api_stage, rest_api_id
    if api_name is None:
        notes["rest_api_id"] = f"stack output {contract.REST_API_ID} is absent and the API's name is unknown"
        return None, api_stage, None
    try:
        pages = clients.client("apigateway").get_paginator("get_rest_apis").paginate()
        ids = [api["id"] for page in pages for api in page.get("items", []) if api.get("name") == api_name]
    except FATAL_ERRORS:
        raise
    except SOURCE_ERRORS as err:
        ids = []
        failed = f"apigateway:GetRestApis failed ({error_code(err)})"
        notes["rest_api_id"] = f"stack output {contract.REST_API_ID} is absent and {failed}"
    if len(ids) == 1:
        notes["rest_api_id"] = f"stack output {contract.REST_API_ID} is absent; found API {api_name} by name ({ids[0]})"
        return api_name, api_stage, ids[0]
    notes.setdefault(
        "rest_api_id",
        f"stack output {contract.REST_API_ID} is absent and {len(ids)} APIs are named {api_name}: the API's stage "
        "and the function's permission for it were not checked",
    )
    return api_name, api_stage, None


def resolve_target(outputs: Mapping[str, str], clients: Clients, *, account: str, region: str) -> Target:
    """Read the function's role and the API's name and id; what cannot be read is noted, not fatal.

    The two lookups (function -> role, alarm -> API) run side by side: each costs one or two round trips.
    """
    missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        raise ValueError(f"stack output {missing[0]!r} is missing")
    function_name = outputs[contract.IMAGE_FUNCTION]
    notes: dict[str, str] = {}
    alarms = {purpose: outputs[key] for purpose, key in OUTPUT_ALARMS.items() if outputs.get(key)}
    declared_role = outputs.get(contract.IMAGE_ROLE) or None
    if declared_role is None:
        notes["declared_role_arn"] = (
            f"stack output {contract.IMAGE_ROLE} is absent: the function's role was not compared with the stack's"
        )
    declared_api = outputs.get(contract.REST_API_NAME) or None
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="target") as pool:
        role = pool.submit(_function_role, clients, function_name, notes)
        api = pool.submit(_api, clients, alarms, declared_api, outputs.get(contract.REST_API_ID) or None, notes)
        (role_arn, role_id), (api_name, api_stage, rest_api_id) = role.result(), api.result()
    return Target(
        region=region,
        account=account,
        prefix=outputs.get(contract.NAME_PREFIX) or function_name,  # the report's title
        bucket=outputs[contract.BUCKET],
        function_name=function_name,
        parameter_name=outputs[contract.PARAMETER],
        role_arn=role_arn,
        role_id=role_id,
        api_name=api_name,
        api_stage=api_stage,
        rest_api_id=rest_api_id,
        declared_role_arn=declared_role,
        alarms=alarms,
        fault_function=outputs.get(contract.FAULT_FUNCTION) or None,
        seeder_function=outputs.get(contract.SEEDER_FUNCTION) or None,
        fis_configuration_location=outputs.get(contract.FIS_CONFIGURATION_LOCATION) or None,
        fis_templates={kind: outputs[key] for kind, key in OUTPUT_FIS_TEMPLATES.items() if outputs.get(key)},
        notes=notes,
    )
