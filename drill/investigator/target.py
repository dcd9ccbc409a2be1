"""Resolve the stack's outputs into the resources the collectors look at."""

from __future__ import annotations

from collections.abc import Mapping

from drill.aws import FATAL_ERRORS, SOURCE_ERRORS, Clients, error_code
from drill.investigator.model import Target

# Output names (the stack's contract); kept here so the investigator does not import CLI modules.
OUTPUT_BUCKET = "S3BucketName"
OUTPUT_FUNCTION = "LambdaFunctionName"
OUTPUT_PARAMETER = "BucketNameParameter"
OUTPUT_ALARMS = {
    "invocations": "CloudWatchAlarmName",
    "api_5xx": "ApiGateway5XXAlarmName",
    "errors": "LambdaErrorsAlarmName",
}
REQUIRED_OUTPUTS = (OUTPUT_BUCKET, OUTPUT_FUNCTION, OUTPUT_PARAMETER)
# Physical names are "<project>-<stack>-<suffix>" (see the stack contract).
NAME_SUFFIXES = {
    OUTPUT_FUNCTION: "-image-api",
    "ApiGateway5XXAlarmName": "-api-5xx-alarm",
    "CloudWatchAlarmName": "-lambda-trigger-alarm",
    "LambdaErrorsAlarmName": "-image-api-errors-alarm",
}


def stack_prefix(outputs: Mapping[str, str]) -> str:
    """`<project>-<stack>`, from whichever contract name is present."""
    for key, suffix in NAME_SUFFIXES.items():
        value = outputs.get(key) or ""
        if value.endswith(suffix) and len(value) > len(suffix):
            return value.removesuffix(suffix)
    return str(outputs.get(OUTPUT_FUNCTION, "stack"))


def resolve_target(outputs: Mapping[str, str], clients: Clients, *, account: str, region: str) -> Target:
    """Read the function's role and the API's name; what cannot be read is noted, not fatal."""
    missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        raise ValueError(f"stack output {missing[0]!r} is missing")
    function_name = outputs[OUTPUT_FUNCTION]
    prefix = stack_prefix(outputs)
    notes: dict[str, str] = {}
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

    alarms = {purpose: outputs[key] for purpose, key in OUTPUT_ALARMS.items() if outputs.get(key)}
    api_name, api_stage = f"{prefix}-api", "prod"
    if "api_5xx" in alarms:
        # The 5XX alarm's dimensions name the API exactly; the prefix rule is only the fallback.
        try:
            found = clients.cloudwatch.describe_alarms(AlarmNames=[alarms["api_5xx"]])["MetricAlarms"]
            dims = {d["Name"]: d["Value"] for d in (found[0].get("Dimensions", []) if found else [])}
            api_name = dims.get("ApiName", api_name)
            api_stage = dims.get("Stage", api_stage)
        except FATAL_ERRORS:
            raise
        except SOURCE_ERRORS as err:
            notes["api_name"] = f"cloudwatch:DescribeAlarms failed ({error_code(err)}); assumed {api_name}"
    return Target(
        region=region,
        account=account,
        prefix=prefix,
        bucket=outputs[OUTPUT_BUCKET],
        function_name=function_name,
        parameter_name=outputs[OUTPUT_PARAMETER],
        role_arn=role_arn,
        role_id=role_id,
        api_name=api_name,
        api_stage=api_stage,
        alarms=alarms,
        fault_function=outputs.get("BucketPolicyLambdaName") or None,
        seeder_function=outputs.get("BedrockLambdaName") or None,
        notes=notes,
    )
