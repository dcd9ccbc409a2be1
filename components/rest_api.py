"""The image API as ONE OpenAPI 3 document, and the names and ARNs it is built from.

The whole REST API — GET /random as a Lambda proxy, the OPTIONS /random CORS preflight, the binary
media types — is one document in `aws.apigateway.RestApi(body=...)`. The deployment is triggered by the
document's hash, so any change to a route redeploys and nothing has to list what it watches. The
image function's invoke ARN is built from its deterministic name, so the API does not wait for the
function (the stage does, through the Lambda permission).

API Gateway's OpenAPI extensions: https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions.html
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

STAGE_NAME = "prod"
ROUTE = "random"

# curl and browsers send `Accept: */*`; API Gateway decodes the function's base64 body to binary only
# when the Accept header matches a binary media type, and only "*/*" matches that header.
BINARY_MEDIA_TYPES = ["image/jpeg", "image/png", "*/*"]

# API Gateway's own answers (429 from throttling, 500 when its invoke permission is missing, 403) come from
# its gateway responses, not from the function: without these a browser sees a CORS failure, not the status.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-gateway-responses.html
GATEWAY_RESPONSE_TYPES = ("DEFAULT_4XX", "DEFAULT_5XX")

CORS_HEADERS = {
    "Access-Control-Allow-Headers": "'Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token'",
    "Access-Control-Allow-Methods": "'GET,OPTIONS'",
    "Access-Control-Allow-Origin": "'*'",
}


def function_arn(region: str, account: str, function_name: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:function:{function_name}"


def function_invoke_arn(region: str, account: str, function_name: str) -> str:
    """The URI API Gateway calls for a Lambda proxy integration (what `Function.invoke_arn` would say)."""
    return (
        f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
        f"{function_arn(region, account, function_name)}/invocations"
    )


def openapi_document(title: str, description: str, invoke_arn: str) -> dict[str, Any]:
    """GET /random → the image function (AWS_PROXY); OPTIONS /random → a MOCK answering the CORS preflight."""
    preflight_headers = {header: {"schema": {"type": "string"}} for header in CORS_HEADERS}
    return {
        "openapi": "3.0.1",
        "info": {"title": title, "description": description, "version": "1.0"},
        "paths": {
            f"/{ROUTE}": {
                "get": {
                    "responses": {"200": {"description": "A random image from the bucket"}},
                    "x-amazon-apigateway-integration": {
                        "type": "aws_proxy",
                        "httpMethod": "POST",  # Lambda is always invoked with POST
                        "uri": invoke_arn,
                        "passthroughBehavior": "when_no_match",
                    },
                },
                "options": {
                    "responses": {"200": {"description": "CORS preflight", "headers": preflight_headers}},
                    "x-amazon-apigateway-integration": {
                        "type": "mock",
                        "requestTemplates": {"application/json": json.dumps({"statusCode": 200})},
                        # With "*/*" as a binary media type the preflight body would be binary and the
                        # mapping template could not run; convert it to text first.
                        "contentHandling": "CONVERT_TO_TEXT",
                        "passthroughBehavior": "when_no_match",
                        "responses": {
                            "default": {
                                "statusCode": "200",
                                "responseParameters": {
                                    f"method.response.header.{header}": value for header, value in CORS_HEADERS.items()
                                },
                                "responseTemplates": {"application/json": ""},
                            }
                        },
                    },
                },
            }
        },
        "x-amazon-apigateway-binary-media-types": BINARY_MEDIA_TYPES,
        "x-amazon-apigateway-gateway-responses": gateway_responses(),
    }


def gateway_responses() -> dict[str, Any]:
    """DEFAULT_4XX and DEFAULT_5XX carry the CORS origin header, like the function's own answers."""
    origin = "Access-Control-Allow-Origin"
    return {
        response_type: {"responseParameters": {f"gatewayresponse.header.{origin}": CORS_HEADERS[origin]}}
        for response_type in GATEWAY_RESPONSE_TYPES
    }


def document_body(document: dict[str, Any]) -> str:
    """The document as the RestApi body: canonical JSON, so the same document always hashes the same."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def document_hash(body: str) -> str:
    """The deployment trigger: a new hash (any change to the document) means a new deployment."""
    return hashlib.sha256(body.encode()).hexdigest()
