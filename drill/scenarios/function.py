"""The image function's configuration, concurrency and resource policy: read and written as scenario states."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from drill import stack
from drill.aws import error_code
from drill.errors import DrillError
from drill.scenarios.model import State
from drill.steps.model import Drill

API_PRINCIPAL = "apigateway.amazonaws.com"


def function_name(drill: Drill) -> str:
    return drill.outputs.require(stack.IMAGE_FUNCTION)


def _configuration(drill: Drill) -> dict[str, Any]:
    return drill.clients.lambda_.get_function_configuration(FunctionName=function_name(drill))


def _update(drill: Drill, **changes: Any) -> None:
    """UpdateFunctionConfiguration, then wait until Lambda has applied it (a second update before that
    is refused with ResourceConflictException)."""
    name = function_name(drill)
    drill.clients.lambda_.update_function_configuration(FunctionName=name, **changes)
    drill.clients.lambda_.get_waiter("function_updated").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )


# -- environment
def read_environment(drill: Drill) -> State:
    return dict((_configuration(drill).get("Environment") or {}).get("Variables") or {})


def write_environment(drill: Drill, _current: State, wanted: State) -> None:
    _update(drill, Environment={"Variables": dict(wanted)})


# -- role
def read_role(drill: Drill) -> State:
    return str(_configuration(drill)["Role"])


def write_role(drill: Drill, _current: State, wanted: State) -> None:
    _update(drill, Role=str(wanted))


# -- reserved concurrency
def read_concurrency(drill: Drill) -> State:
    answer = drill.clients.lambda_.get_function_concurrency(FunctionName=function_name(drill))
    value = answer.get("ReservedConcurrentExecutions")
    return None if value is None else int(value)


def write_concurrency(drill: Drill, _current: State, wanted: State) -> None:
    name = function_name(drill)
    if wanted is None:
        drill.clients.lambda_.delete_function_concurrency(FunctionName=name)
    else:
        drill.clients.lambda_.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=int(wanted))


# -- resource policy: the statements that let API Gateway invoke the function
def _policy_statements(drill: Drill) -> list[dict[str, Any]]:
    try:
        text = drill.clients.lambda_.get_policy(FunctionName=function_name(drill))["Policy"]
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return []
        raise
    found = json.loads(text).get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def _is_api(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    service = principal.get("Service") if isinstance(principal, dict) else principal
    return service == API_PRINCIPAL or service == [API_PRINCIPAL]


def read_api_permissions(drill: Drill) -> State:
    """API Gateway's statements in the function's resource policy, by Sid."""
    return sorted((s for s in _policy_statements(drill) if _is_api(s)), key=lambda s: str(s.get("Sid")))


def permission_arguments(statement: dict[str, Any]) -> dict[str, str]:
    """AddPermission's arguments that recreate `statement` exactly; DrillError when it cannot be done
    (a condition AddPermission has no argument for), so the scenario refuses before it changes anything."""
    condition = dict(statement.get("Condition") or {})
    arguments = {
        "StatementId": str(statement["Sid"]),
        "Action": str(statement["Action"]),
        "Principal": API_PRINCIPAL,
    }
    arn_like = dict(condition.pop("ArnLike", {}))
    if "AWS:SourceArn" in arn_like:
        arguments["SourceArn"] = str(arn_like.pop("AWS:SourceArn"))
    equals = dict(condition.pop("StringEquals", {}))
    if "AWS:SourceAccount" in equals:
        arguments["SourceAccount"] = str(equals.pop("AWS:SourceAccount"))
    if condition or arn_like or equals or statement.get("Effect") != "Allow":
        raise DrillError(f"permission {statement['Sid']} has conditions AddPermission cannot recreate: {statement}")
    return arguments


def write_api_permissions(drill: Drill, current: State, wanted: State) -> None:
    name = function_name(drill)
    wanted_sids = {s["Sid"] for s in wanted}
    current_sids = {s["Sid"] for s in current}
    for statement in current:
        if statement["Sid"] not in wanted_sids:
            drill.clients.lambda_.remove_permission(FunctionName=name, StatementId=statement["Sid"])
    for statement in wanted:
        if statement["Sid"] not in current_sids:
            drill.clients.lambda_.add_permission(FunctionName=name, **permission_arguments(statement))


def no_api_permissions(_drill: Drill, prior: State) -> State:
    for statement in prior:
        permission_arguments(statement)  # refuse now if restore could not put it back exactly
    return []
