"""ImageService under Pulumi mocks: bucket hardening, parameter, both functions, seeding, REST API."""

from __future__ import annotations

import hashlib
import json

import pulumi
import pulumi_aws as aws
from conftest import ACCOUNT, REGION, depends_on, image_service, settled

from components.function import Instrumentation
from components.image_service import ImageService
from components.rest_api import CORS_HEADERS, document_body, document_hash, function_invoke_arn, openapi_document
from components.seeder_iam import MARKETPLACE_PRODUCT_IDS

PREFIX = "aiops-demo-dev"
MODEL = "stability.stable-image-core-v1:1"


def build(**overrides) -> ImageService:
    return image_service(**overrides)


INVOKE_ARN = (
    f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
    f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PREFIX}-image-api/invocations"
)


def document_of(mocks) -> dict:
    return json.loads(mocks.one("aws:apigateway/restApi:RestApi").inputs["body"])


def statements_of(mocks, function_component: str) -> list[dict]:
    policy = mocks.one("aws:iam/rolePolicy:RolePolicy", f"{function_component}-policy")
    return json.loads(policy.inputs["policy"])["Statement"]


@pulumi.runtime.test
def test_bucket_is_private_encrypted_owner_enforced_tls_only_and_emptied_on_destroy(mocks):
    svc = build()

    def check(values):
        bucket_name, bucket_arn = values
        bucket = mocks.one("aws:s3/bucket:Bucket")
        assert bucket.inputs["forceDestroy"] is True
        pab = mocks.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
        assert pab["bucket"] == bucket_name
        for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
            assert pab[key] is True, key
        sse = mocks.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
        ownership = mocks.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
        assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
        policy_resource = mocks.one("aws:s3/bucketPolicy:BucketPolicy")
        assert depends_on(policy_resource, mocks.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"))
        assert json.loads(policy_resource.inputs["policy"])["Statement"] == [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]

    return settled(svc.bucket.bucket, svc.bucket.arn).apply(check)


@pulumi.runtime.test
def test_parameter_holds_the_bucket_name_under_the_stack_path(mocks):
    svc = build()

    def check(values):
        bucket_name, parameter_name = values
        parameter = mocks.one("aws:ssm/parameter:Parameter").inputs
        assert parameter_name == f"/{PREFIX}/bucket-name"
        assert parameter["type"] == "String"
        assert parameter["insecureValue"] == bucket_name

    return settled(svc.bucket.bucket, svc.parameter.name).apply(check)


@pulumi.runtime.test
def test_image_api_function_reads_parameter_and_objects_and_nothing_else(mocks):
    svc = build(image_cache_ttl_seconds=30)

    def check(values):
        parameter_arn, bucket_arn = values
        fn = mocks.one("aws:lambda/function:Function", "images-image-api-fn").inputs
        assert fn["name"] == f"{PREFIX}-image-api"
        assert fn["code"].path == "functions/image_api"
        assert fn["environment"]["variables"] == {
            "BUCKET_NAME_PARAMETER": f"/{PREFIX}/bucket-name",
            "IMAGE_CACHE_TTL_SECONDS": "30",
        }
        own = statements_of(mocks, "images-image-api")[:-2]  # the last two are logs and X-Ray
        assert own == [
            {
                "Sid": "ReadBucketNameParameter",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": parameter_arn,
            },
            {"Sid": "ListImages", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn},
            {"Sid": "ReadImages", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{bucket_arn}/*"},
        ]
        all_actions = [s["Action"] for s in statements_of(mocks, "images-image-api")]
        assert not any("PutBucketPolicy" in str(a) for a in all_actions)

    return settled(svc.parameter.arn, svc.bucket.arn).apply(check)


@pulumi.runtime.test
def test_seeder_function_can_invoke_one_model_and_write_only_its_own_prefixes(mocks):
    svc = build(image_count=3, image_model_id="amazon.nova-canvas-v1:0")

    def check(values):
        (bucket_name, bucket_arn) = values
        fn = mocks.one("aws:lambda/function:Function", "images-image-seeder-fn").inputs
        assert fn["name"] == f"{PREFIX}-image-seeder"
        assert fn["memorySize"] == 1024 and fn["timeout"] == 300
        assert fn["code"].path == "functions/image_seeder"
        assert fn["environment"]["variables"] == {
            "BUCKET_NAME": bucket_name,
            "MODEL_ID": "amazon.nova-canvas-v1:0",
            "IMAGE_COUNT": "3",
            "MARKETPLACE_GRANTED": "false",
        }
        # Amazon models are not Marketplace products: no aws-marketplace statement at all.
        assert statements_of(mocks, "images-image-seeder")[:-2] == [
            {
                "Sid": "GenerateImages",
                "Effect": "Allow",
                "Action": "bedrock:InvokeModel",
                "Resource": f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-canvas-v1:0",
            },
            {"Sid": "CheckForImages", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn},
            {
                "Sid": "StoreImagesAndManifest",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": [f"{bucket_arn}/generated/*", f"{bucket_arn}/samples/*", f"{bucket_arn}/seeder/*"],
            },
            {
                "Sid": "ReadManifest",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"{bucket_arn}/seeder/*"],
            },
            {
                "Sid": "ReplaceOwnImages",
                "Effect": "Allow",
                "Action": "s3:DeleteObject",
                "Resource": [f"{bucket_arn}/generated/*", f"{bucket_arn}/samples/*"],
            },
        ]

    return settled(svc.bucket.bucket, svc.bucket.arn).apply(check)


@pulumi.runtime.test
def test_seeder_may_subscribe_to_exactly_its_documented_stability_product(mocks):
    build(image_model_id="stability.stable-image-core-v1:0")

    def check(_):
        marketplace = [s for s in statements_of(mocks, "images-image-seeder") if "marketplace" in str(s["Action"])]
        assert marketplace == [
            {
                "Sid": "SubscribeToImageModel",
                "Effect": "Allow",
                "Action": "aws-marketplace:Subscribe",
                "Resource": "*",
                "Condition": {"ForAnyValue:StringEquals": {"aws-marketplace:ProductId": ["prod-eacdrmv7zfc5e"]}},
            },
            {
                "Sid": "ViewModelSubscriptions",
                "Effect": "Allow",
                "Action": "aws-marketplace:ViewSubscriptions",
                "Resource": "*",
            },
        ]

    return settled().apply(check)


@pulumi.runtime.test
def test_a_stability_model_without_a_documented_product_id_gets_no_marketplace_statement(mocks):
    build(image_model_id=MODEL)  # stability.stable-image-core-v1:1: AWS lists no product id for it
    assert MODEL not in MARKETPLACE_PRODUCT_IDS

    def check(_):
        actions = [s["Action"] for s in statements_of(mocks, "images-image-seeder")]
        assert not any("aws-marketplace" in str(action) for action in actions)

    return settled().apply(check)


@pulumi.runtime.test
def test_no_statement_uses_a_wildcard_resource_except_xray(mocks):
    build(image_model_id="stability.stable-image-core-v1:0")  # with the Marketplace statements

    def check(_):
        for policy in mocks.of_type("aws:iam/rolePolicy:RolePolicy"):
            for statement in json.loads(policy.inputs["policy"])["Statement"]:
                resources = statement["Resource"]
                resources = resources if isinstance(resources, list) else [resources]
                # AWS offers nothing narrower for X-Ray writes and Marketplace actions (no resource types).
                if statement["Sid"] not in ("XRayWrite", "SubscribeToImageModel", "ViewModelSubscriptions"):
                    assert all("*" not in r or r.endswith(("/*", ":*")) for r in resources), statement

    return settled().apply(check)


@pulumi.runtime.test
def test_seeder_runs_at_deploy_after_the_bucket_and_its_policy_are_ready(mocks):
    svc = build()

    def check(values):
        seeder_name, bucket_name = values
        invocation = mocks.one("aws:lambda/invocation:Invocation")
        assert invocation.inputs["functionName"] == seeder_name
        # A replaced bucket (new name) is empty: it must be seeded again.
        assert invocation.inputs["triggers"] == {"model": MODEL, "count": "5", "bucket": bucket_name}
        assert depends_on(invocation, mocks.one("aws:iam/rolePolicy:RolePolicy", "images-image-seeder-policy"))
        for typ in (
            "aws:s3/bucketPolicy:BucketPolicy",
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        ):
            assert depends_on(invocation, mocks.one(typ)), typ
        assert depends_on(invocation, mocks.one("aws:lambda/function:Function", "images-image-seeder-fn"))

    return settled(svc.seeder_function.function.name, svc.bucket.bucket).apply(check)


@pulumi.runtime.test
def test_rest_api_is_one_openapi_document_routing_get_to_the_function_and_answering_cors(mocks):
    svc = build()

    def check(values):
        invoke_arn, api_id = values
        api = mocks.one("aws:apigateway/restApi:RestApi").inputs
        assert api["name"] == f"{PREFIX}-api"
        assert api["endpointConfiguration"]["types"] == "REGIONAL"
        document = document_of(mocks)
        assert document["openapi"].startswith("3.")
        assert document["x-amazon-apigateway-binary-media-types"] == ["image/jpeg", "image/png", "*/*"]
        assert list(document["paths"]) == ["/random"]
        get = document["paths"]["/random"]["get"]["x-amazon-apigateway-integration"]
        assert (get["type"], get["httpMethod"]) == ("aws_proxy", "POST")
        # Built from the function's deterministic name, and equal to what the function reports.
        assert get["uri"] == INVOKE_ARN == invoke_arn
        preflight = document["paths"]["/random"]["options"]["x-amazon-apigateway-integration"]
        assert preflight["type"] == "mock"
        # "*/*" is a binary media type: without this the preflight's mapping template cannot run.
        assert preflight["contentHandling"] == "CONVERT_TO_TEXT"
        headers = preflight["responses"]["default"]["responseParameters"]
        assert headers == {
            "method.response.header.Access-Control-Allow-Headers": (
                "'Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token'"
            ),
            "method.response.header.Access-Control-Allow-Methods": "'GET,OPTIONS'",
            "method.response.header.Access-Control-Allow-Origin": "'*'",
        }
        declared = document["paths"]["/random"]["options"]["responses"]["200"]["headers"]
        assert set(declared) == set(CORS_HEADERS)
        # No separate route resources: the document is the API.
        for typ in (
            "resource:Resource",
            "method:Method",
            "integration:Integration",
            "integrationResponse:IntegrationResponse",
            "methodResponse:MethodResponse",
        ):
            assert mocks.of_type(f"aws:apigateway/{typ}") == [], typ
        permission = mocks.one("aws:lambda/permission:Permission").inputs
        assert permission["principal"] == "apigateway.amazonaws.com"
        assert permission["sourceArn"] == f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*/GET/random"

    return settled(svc.api_function.function.invoke_arn, svc.rest_api.id).apply(check)


@pulumi.runtime.test
def test_deployment_is_triggered_by_the_document_hash_and_stage_is_prod_with_xray(mocks):
    svc = build()

    def check(values):
        (endpoint,) = values
        deployment = mocks.one("aws:apigateway/deployment:Deployment")
        body = mocks.one("aws:apigateway/restApi:RestApi").inputs["body"]
        assert deployment.inputs["triggers"] == {"redeployment": hashlib.sha256(body.encode()).hexdigest()}
        stage = mocks.one("aws:apigateway/stage:Stage")
        assert stage.inputs["stageName"] == "prod"
        assert stage.inputs["xrayTracingEnabled"] is True
        assert stage.inputs["deployment"] == "images-deployment-id"
        assert endpoint == f"https://a1b2c3d4e5.execute-api.{REGION}.amazonaws.com/prod/random"

    return settled(svc.api_endpoint).apply(check)


def test_document_hash_changes_when_the_document_changes():
    def hashed(**changes) -> str:
        args = {"title": f"{PREFIX}-api", "description": "d", "invoke_arn": INVOKE_ARN} | changes
        return document_hash(document_body(openapi_document(**args)))

    other_function = function_invoke_arn(REGION, ACCOUNT, "someone-else")
    assert hashed() == hashed()
    changed = [hashed(invoke_arn=other_function), hashed(title="renamed"), hashed(description="new")]
    assert all(value != hashed() for value in changed)
    assert len(set(changed)) == len(changed)
    # Key order does not matter, content does.
    document = openapi_document(f"{PREFIX}-api", "d", INVOKE_ARN)
    reordered = dict(reversed(list(document.items())))
    assert document_hash(document_body(reordered)) == hashed()
    document["paths"]["/random"]["options"]["x-amazon-apigateway-integration"]["contentHandling"] = "CONVERT_TO_BINARY"
    assert document_hash(document_body(document)) != hashed()


@pulumi.runtime.test
def test_api_does_not_wait_for_the_function_but_the_stage_waits_for_permission_policy_and_parameter(mocks):
    svc = build()

    def check(_):
        api = mocks.one("aws:apigateway/restApi:RestApi")
        function = mocks.one("aws:lambda/function:Function", "images-image-api-fn")
        assert not depends_on(api, function)
        stage = mocks.one("aws:apigateway/stage:Stage")
        permission = mocks.one("aws:lambda/permission:Permission")
        assert depends_on(stage, permission)
        assert depends_on(permission, function)  # so the function exists before traffic
        assert depends_on(stage, mocks.one("aws:iam/rolePolicy:RolePolicy", "images-image-api-policy"))
        assert depends_on(stage, mocks.one("aws:ssm/parameter:Parameter"))

    return settled(svc.stage.id).apply(check)


@pulumi.runtime.test
def test_observability_hooks_reach_the_stage_and_the_image_function(mocks):
    account = aws.apigateway.Account("account", cloudwatch_role_arn="arn:aws:iam::123456789012:role/apigw")
    access_log = aws.apigateway.StageAccessLogSettingsArgs(
        destination_arn="arn:aws:logs:us-west-2:123456789012:log-group:access", format='{"id":"$context.requestId"}'
    )
    svc = build(
        stage_access_log=access_log,
        stage_depends_on=[account],
        api_instrumentation=Instrumentation(
            layers=["arn:aws:lambda:us-west-2:1:layer:otel:1"],
            environment={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/otel-instrument"},
        ),
    )

    def check(_):
        stage = mocks.one("aws:apigateway/stage:Stage")
        assert stage.inputs["accessLogSettings"]["destinationArn"].endswith("log-group:access")
        assert depends_on(stage, mocks.one("aws:apigateway/account:Account"))
        fn = mocks.one("aws:lambda/function:Function", "images-image-api-fn").inputs
        assert fn["layers"] == ["arn:aws:lambda:us-west-2:1:layer:otel:1"]
        assert fn["environment"]["variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/otel-instrument"
        assert "BUCKET_NAME_PARAMETER" in fn["environment"]["variables"]

    return settled(svc.stage.id).apply(check)
