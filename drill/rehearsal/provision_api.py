"""Provisioners for API Gateway (REST) resources, including a REST API defined by one OpenAPI `body`.

moto imports OpenAPI bodies only in part (it needs info.description, and a MOCK integration without
uri/httpMethod makes the import stop half-way), so a body is replayed here with the individual calls:
resources, methods, method responses, integrations and integration responses, path by path.
"""

from __future__ import annotations

from typing import Any

import yaml

from drill.rehearsal.aws_context import Aws, Provisioner, Skip, autoname, tags_all

METHODS = {m: m.upper() for m in ("get", "put", "post", "delete", "options", "head", "patch")} | {
    "x-amazon-apigateway-any-method": "ANY"
}


def rest_api(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    document = yaml.safe_load(inputs["body"]) if inputs.get("body") else {}  # JSON is YAML too
    physical = autoname(name, inputs) if not document else str(inputs.get("name") or document["info"]["title"])
    types = (inputs.get("endpointConfiguration") or {}).get("types") or ["EDGE"]
    binary = inputs.get("binaryMediaTypes") or document.get("x-amazon-apigateway-binary-media-types") or []
    description = inputs.get("description") or (document.get("info") or {}).get("description") or ""
    api = aws.client("apigateway").create_rest_api(
        name=physical,
        description=description,
        binaryMediaTypes=list(binary),
        endpointConfiguration={"types": [types] if isinstance(types, str) else list(types)},
        tags=tags_all(inputs),
    )
    if document:
        replay_openapi(aws, api["id"], api["rootResourceId"], document)
    return api["id"], {
        "name": physical,
        "rootResourceId": api["rootResourceId"],
        "executionArn": aws.arn("execute-api", api["id"]),
        "arn": f"arn:aws:apigateway:{aws.region}::/restapis/{api['id']}",
        "tagsAll": tags_all(inputs),
    }


def replay_openapi(aws: Aws, api_id: str, root_id: str, document: dict[str, Any]) -> None:
    client = aws.client("apigateway")
    ids = {"/": root_id}
    for path, operations in (document.get("paths") or {}).items():
        parent = "/"
        for part in [p for p in path.split("/") if p]:
            here = f"{parent.rstrip('/')}/{part}"
            if here not in ids:
                ids[here] = client.create_resource(restApiId=api_id, parentId=ids[parent], pathPart=part)["id"]
            parent = here
        resource_id = ids[parent]
        for verb, operation in (operations or {}).items():
            method = METHODS.get(verb.lower())
            if method is None:  # "parameters", "summary", ... are not operations
                continue
            key = {"restApiId": api_id, "resourceId": resource_id, "httpMethod": method}
            client.put_method(**key, authorizationType="NONE")
            for status, response in (operation.get("responses") or {}).items():
                headers = (response or {}).get("headers") or {}
                client.put_method_response(
                    **key,
                    statusCode=str(status),
                    responseParameters={f"method.response.header.{h}": False for h in headers},
                )
            integration = operation.get("x-amazon-apigateway-integration") or {}
            if integration:
                replay_integration(client, key, integration)


def replay_integration(client: Any, key: dict[str, str], integration: dict[str, Any]) -> None:
    optional = {
        "integrationHttpMethod": integration.get("httpMethod"),
        "uri": integration.get("uri"),
        "requestTemplates": integration.get("requestTemplates"),
        "contentHandling": integration.get("contentHandling"),
        "passthroughBehavior": integration.get("passthroughBehavior"),
    }
    client.put_integration(**key, type=integration["type"].upper(), **{k: v for k, v in optional.items() if v})
    for pattern, response in (integration.get("responses") or {}).items():
        extra = {
            "responseParameters": response.get("responseParameters"),
            "responseTemplates": response.get("responseTemplates"),
            "contentHandling": response.get("contentHandling"),
        }
        client.put_integration_response(
            **key,
            statusCode=str(response.get("statusCode", "200")),
            **({"selectionPattern": pattern} if pattern != "default" else {}),
            **{k: v for k, v in extra.items() if v},
        )


def resource(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    created = aws.client("apigateway").create_resource(
        restApiId=inputs["restApi"], parentId=inputs["parentId"], pathPart=inputs["pathPart"]
    )
    return created["id"], {"path": created["path"]}


def method_key(inputs: dict[str, Any]) -> dict[str, str]:
    return {"restApiId": inputs["restApi"], "resourceId": inputs["resourceId"], "httpMethod": inputs["httpMethod"]}


def method(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    key = method_key(inputs)
    aws.client("apigateway").put_method(**key, authorizationType=inputs.get("authorization", "NONE"))
    return f"agm-{key['restApiId']}-{key['resourceId']}-{key['httpMethod']}", {}


def integration(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    key = method_key(inputs)
    replay_integration(aws.client("apigateway"), key, {**inputs, "httpMethod": inputs.get("integrationHttpMethod")})
    return f"agi-{key['restApiId']}-{key['resourceId']}-{key['httpMethod']}", {}


def method_response(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    key = method_key(inputs)
    aws.client("apigateway").put_method_response(
        **key, statusCode=inputs["statusCode"], responseParameters=inputs.get("responseParameters") or {}
    )
    return f"agmr-{key['restApiId']}-{key['resourceId']}-{key['httpMethod']}-{inputs['statusCode']}", {}


def integration_response(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    key = method_key(inputs)
    aws.client("apigateway").put_integration_response(
        **key,
        statusCode=inputs["statusCode"],
        responseParameters=inputs.get("responseParameters") or {},
        responseTemplates=inputs.get("responseTemplates") or {},
    )
    return f"agir-{key['restApiId']}-{key['resourceId']}-{key['httpMethod']}-{inputs['statusCode']}", {}


def deployment(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    created = aws.client("apigateway").create_deployment(
        restApiId=inputs["restApi"], description=inputs.get("description", "")
    )
    return created["id"], {"executionArn": aws.arn("execute-api", inputs["restApi"])}


def stage(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    api, stage_name = inputs["restApi"], inputs["stageName"]
    aws.client("apigateway").create_stage(
        restApiId=api,
        stageName=stage_name,
        deploymentId=inputs["deployment"],
        description=inputs.get("description", ""),
        tracingEnabled=bool(inputs.get("xrayTracingEnabled")),
        tags=tags_all(inputs),
    )
    if inputs.get("accessLogSettings"):
        aws.caveat("API access logs are not written: the local API stands in for API Gateway's request path")
    return f"ags-{api}-{stage_name}", {
        "invokeUrl": f"https://{api}.execute-api.{aws.region}.amazonaws.com/{stage_name}",
        "executionArn": aws.arn("execute-api", f"{api}/{stage_name}"),
        "arn": f"arn:aws:apigateway:{aws.region}::/restapis/{api}/stages/{stage_name}",
        "tagsAll": tags_all(inputs),
    }


# MethodSettings' settings -> UpdateStage's patch path under /<methodPath>/ (how API Gateway names each one).
METHOD_SETTING_PATHS = {
    "metricsEnabled": "metrics/enabled",
    "loggingLevel": "logging/loglevel",
    "dataTraceEnabled": "logging/dataTrace",
    "throttlingBurstLimit": "throttling/burstLimit",
    "throttlingRateLimit": "throttling/rateLimit",
    "cachingEnabled": "caching/enabled",
    "cacheTtlInSeconds": "caching/ttlInSeconds",
    "cacheDataEncrypted": "caching/dataEncrypted",
    "requireAuthorizationForCacheControl": "caching/requireAuthorizationForCacheControl",
    "unauthorizedCacheControlHeaderStrategy": "caching/unauthorizedCacheControlHeaderStrategy",
}
WHOLE_NUMBER_SETTINGS = {"throttlingBurstLimit", "cacheTtlInSeconds"}


def patch_value(key: str, value: Any) -> str:
    """A setting as UpdateStage's patch value: booleans lower-case, whole numbers without a fraction."""
    if isinstance(value, bool):
        return str(value).lower()
    if key in WHOLE_NUMBER_SETTINGS:
        return str(int(value))
    return str(value)


def method_settings(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Every declared setting goes to moto's stage (UpdateStage patch operations, as the provider sends them)."""
    settings = inputs.get("settings") or {}
    unknown = sorted(set(settings) - set(METHOD_SETTING_PATHS))
    method_path = inputs["methodPath"]
    if unknown:
        aws.caveat(f"method settings {', '.join(unknown)} ({method_path}) are not applied to moto's stage")
    operations = [
        {"op": "replace", "path": f"/{method_path}/{path}", "value": patch_value(key, settings[key])}
        for key, path in METHOD_SETTING_PATHS.items()
        if settings.get(key) is not None
    ]
    if operations:
        aws.client("apigateway").update_stage(
            restApiId=inputs["restApi"], stageName=inputs["stageName"], patchOperations=operations
        )
    rate, burst = settings.get("throttlingRateLimit"), settings.get("throttlingBurstLimit")
    if rate is not None or burst is not None:
        shown = ", ".join(
            f"{label} {value:g}{unit}"
            for label, value, unit in (("rate", rate, "/s"), ("burst", burst, ""))
            if value is not None
        )
        aws.caveat(
            f"the stage's throttling ({method_path}: {shown}) is held by moto, where the investigator reads it; "
            "the local API does not enforce it below a rate or burst of 0 (it answers 429 only to a limit of 0, "
            "the game day's api_throttled)"
        )
    return f"{inputs['restApi']}-{inputs['stageName']}-{method_path}", {}


def account(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    raise Skip("account-wide API Gateway setting (CloudWatch role): not needed offline, never touched")


PROVISIONERS: dict[str, Provisioner] = {
    "aws:apigateway/restApi:RestApi": rest_api,
    "aws:apigateway/resource:Resource": resource,
    "aws:apigateway/method:Method": method,
    "aws:apigateway/integration:Integration": integration,
    "aws:apigateway/methodResponse:MethodResponse": method_response,
    "aws:apigateway/integrationResponse:IntegrationResponse": integration_response,
    "aws:apigateway/deployment:Deployment": deployment,
    "aws:apigateway/stage:Stage": stage,
    "aws:apigateway/methodSettings:MethodSettings": method_settings,
    "aws:apigateway/account:Account": account,
}
