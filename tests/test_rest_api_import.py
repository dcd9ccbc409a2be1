"""Import safety of the REST API (issue 18): warnings fail the import, and API Gateway's own errors carry CORS."""

from __future__ import annotations

import json

import pulumi
from conftest import image_service, settled

from components.rest_api import CORS_HEADERS

ORIGIN = "Access-Control-Allow-Origin"


@pulumi.runtime.test
def test_the_rest_api_fails_on_import_warnings(mocks):
    svc = image_service()

    def check(_):
        assert mocks.one("aws:apigateway/restApi:RestApi").inputs["failOnWarnings"] is True

    return settled(svc.rest_api.id).apply(check)


@pulumi.runtime.test
def test_api_gateways_own_4xx_and_5xx_answers_carry_the_cors_origin(mocks):
    svc = image_service()

    def check(_):
        document = json.loads(mocks.one("aws:apigateway/restApi:RestApi").inputs["body"])
        responses = document["x-amazon-apigateway-gateway-responses"]
        assert set(responses) == {"DEFAULT_4XX", "DEFAULT_5XX"}
        for response in responses.values():
            # The same origin as the function's answers and the preflight, quoted as a static value.
            assert response["responseParameters"] == {f"gatewayresponse.header.{ORIGIN}": CORS_HEADERS[ORIGIN]}
        assert CORS_HEADERS[ORIGIN] == "'*'"

    return settled(svc.rest_api.id).apply(check)
