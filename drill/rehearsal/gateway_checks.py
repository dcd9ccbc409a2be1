"""What API Gateway and Lambda check before a proxy request reaches the function, read from moto each request.

moto stores these settings but applies none of them, so without this the game-day scenarios that change
them would show no symptom offline. Each check reads the setting as the scenario (drill/scenarios/) writes
it and answers as AWS does:

- the stage's throttling on the route (`~1random/GET`, else `*/*`): a rate or burst of 0 is a 429 to every
  request (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html);
- the function's resource policy: without an Allow for apigateway.amazonaws.com whose SourceArn matches
  the method's ARN, API Gateway cannot invoke the function ("Invalid permissions on Lambda function") and
  answers 500 (https://repost.aws/knowledge-center/api-gateway-internal-server-error, docs/aws-facts.md);
- reserved concurrency 0: Lambda throttles every invocation (a `Throttles` datapoint;
  https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html), and API Gateway's proxy
  answers 500 for a throttled function (the same knowledge-center page);
- the function's role and environment as moto holds them now: a change since the runtime registered the
  function is a new definition, so the next invoke is a cold start under the new role and environment.

The SourceArn match is a glob on the ARN (ArnLike's `*` and `?`), not a policy evaluator: the statements the
stack and the scenarios write have no other condition.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any, Protocol

from botocore.exceptions import ClientError

API_PRINCIPAL = "apigateway.amazonaws.com"


class Gateway(Protocol):
    """What the checks read of the local API: its stage, its clients and the runtime's functions."""

    api_id: str
    stage: str
    apigateway: Any
    lambda_: Any
    cloudwatch: Any
    runtime: Any  # drill.rehearsal.runtime.LambdaRuntime: `functions` and `register`


def refusal(api: Gateway, method: str, path: str, function: str) -> tuple[int, str] | None:
    """(status, message) when API Gateway or Lambda refuses the request before the handler runs, else None."""
    if throttled(api, method, path):
        return 429, "Too Many Requests"
    spec = api.runtime.functions.get(function)
    if spec is None:
        return None  # the runtime answers FunctionNotFound: the local API's own failure
    _, _, _, region, account, *_ = spec.arn.split(":")
    source = f"arn:aws:execute-api:{region}:{account}:{api.api_id}/{api.stage}/{method}{path}"
    if not invocable(api.lambda_, function, source):
        return 500, "Internal server error"
    if reserved_zero(api.lambda_, function):
        put_throttle(api.cloudwatch, function)
        return 500, "Internal server error"
    follow_configuration(api, function)
    return None


def throttled(api: Gateway, method: str, path: str) -> bool:
    settings = api.apigateway.get_stage(restApiId=api.api_id, stageName=api.stage).get("methodSettings") or {}
    route = settings.get(f"{path.lstrip('/').replace('/', '~1')}/{method}") or {}
    stage = settings.get("*/*") or {}
    rate = route.get("throttlingRateLimit", stage.get("throttlingRateLimit"))
    burst = route.get("throttlingBurstLimit", stage.get("throttlingBurstLimit"))
    return rate == 0 or burst == 0


def statements(client: Any, function: str) -> list[dict[str, Any]]:
    try:
        document = json.loads(client.get_policy(FunctionName=function)["Policy"])
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return []  # no resource policy at all
        raise
    found = document.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def invocable(client: Any, function: str, source_arn: str) -> bool:
    for statement in statements(client, function):
        principal = statement.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if statement.get("Effect") != "Allow" or API_PRINCIPAL not in (
            service if isinstance(service, list) else [service]
        ):
            continue
        if not any(a in ("lambda:InvokeFunction", "lambda:*", "*") for a in actions):
            continue
        pattern = ((statement.get("Condition") or {}).get("ArnLike") or {}).get("AWS:SourceArn")
        if pattern is None or fnmatchcase(source_arn, str(pattern)):
            return True
    return False


def reserved_zero(client: Any, function: str) -> bool:
    return client.get_function_concurrency(FunctionName=function).get("ReservedConcurrentExecutions") == 0


def put_throttle(cloudwatch: Any, function: str) -> None:
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Throttles",
                "Dimensions": [{"Name": "FunctionName", "Value": function}],
                "Timestamp": datetime.now(UTC),
                "Value": 1,
                "Unit": "Count",
            }
        ],
    )


def follow_configuration(api: Gateway, function: str) -> None:
    """Register the function again when its role or environment in moto differ from what the runtime runs."""
    config = api.lambda_.get_function_configuration(FunctionName=function)
    spec = api.runtime.functions[function]
    role = str(config["Role"])
    environment = {str(k): str(v) for k, v in ((config.get("Environment") or {}).get("Variables") or {}).items()}
    if role != spec.role_arn or environment != dict(spec.environment):
        api.runtime.register(dataclasses.replace(spec, role_arn=role, environment=environment))
