"""ImageService under Pulumi mocks: bucket hardening, parameter, both functions, seeding, REST API."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pulumi
import pulumi_aws as aws
from conftest import ACCOUNT, REGION, depends_on, image_service, settled

from components.function import Instrumentation
from components.image_service import ImageService, _api_hash

PREFIX = "aiops-demo-dev"
MODEL = "stability.stable-image-core-v1:1"


def build(**overrides) -> ImageService:
    return image_service(**overrides)


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
def test_seeder_function_can_invoke_one_model_and_write_objects(mocks):
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
        }
        assert statements_of(mocks, "images-image-seeder")[:-2] == [
            {
                "Sid": "GenerateImages",
                "Effect": "Allow",
                "Action": "bedrock:InvokeModel",
                "Resource": f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-canvas-v1:0",
            },
            {"Sid": "CheckForImages", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn},
            {"Sid": "StoreImages", "Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{bucket_arn}/*"},
        ]

    return settled(svc.bucket.bucket, svc.bucket.arn).apply(check)


@pulumi.runtime.test
def test_no_statement_uses_a_wildcard_resource_except_xray(mocks):
    build()

    def check(_):
        for policy in mocks.of_type("aws:iam/rolePolicy:RolePolicy"):
            for statement in json.loads(policy.inputs["policy"])["Statement"]:
                resources = statement["Resource"]
                resources = resources if isinstance(resources, list) else [resources]
                if statement["Sid"] != "XRayWrite":
                    assert all("*" not in r or r.endswith(("/*", ":*")) for r in resources), statement

    return settled().apply(check)


@pulumi.runtime.test
def test_seeder_runs_once_at_deploy_after_the_bucket_is_ready(mocks):
    svc = build()

    def check(values):
        (seeder_name,) = values
        invocation = mocks.one("aws:lambda/invocation:Invocation")
        assert invocation.inputs["functionName"] == seeder_name
        assert invocation.inputs["triggers"] == {"model": MODEL, "count": "5"}
        for typ in (
            "aws:s3/bucketPolicy:BucketPolicy",
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        ):
            assert depends_on(invocation, mocks.one(typ)), typ
        assert depends_on(invocation, mocks.one("aws:lambda/function:Function", "images-image-seeder-fn"))

    return settled(svc.seeder_function.function.name).apply(check)


@pulumi.runtime.test
def test_rest_api_routes_get_to_the_function_and_answers_cors_preflight(mocks):
    svc = build()

    def check(values):
        invoke_arn, api_id = values
        api = mocks.one("aws:apigateway/restApi:RestApi").inputs
        assert api["name"] == f"{PREFIX}-api"
        assert api["endpointConfiguration"]["types"] == "REGIONAL"
        assert {"image/jpeg", "image/png", "*/*"} <= set(api["binaryMediaTypes"])
        resource = mocks.one("aws:apigateway/resource:Resource").inputs
        assert resource["pathPart"] == "random" and resource["parentId"] == "rootres123"
        get = mocks.one("aws:apigateway/integration:Integration", "images-get-integration").inputs
        assert (get["type"], get["integrationHttpMethod"], get["httpMethod"]) == ("AWS_PROXY", "POST", "GET")
        assert get["uri"] == invoke_arn
        preflight = mocks.one("aws:apigateway/integration:Integration", "images-options-integration").inputs
        assert (preflight["type"], preflight["httpMethod"]) == ("MOCK", "OPTIONS")
        # "*/*" is a binary media type: without this the preflight's mapping template cannot run.
        assert preflight["contentHandling"] == "CONVERT_TO_TEXT"
        headers = mocks.one("aws:apigateway/integrationResponse:IntegrationResponse").inputs["responseParameters"]
        assert headers["method.response.header.Access-Control-Allow-Origin"] == "'*'"
        assert headers["method.response.header.Access-Control-Allow-Methods"] == "'GET,OPTIONS'"
        permission = mocks.one("aws:lambda/permission:Permission").inputs
        assert permission["principal"] == "apigateway.amazonaws.com"
        assert permission["sourceArn"] == f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*/GET/random"

    return settled(svc.api_function.function.invoke_arn, svc.rest_api.id).apply(check)


@pulumi.runtime.test
def test_deployment_is_redeployed_by_route_changes_and_stage_is_prod_with_xray(mocks):
    svc = build()

    def check(values):
        (endpoint,) = values
        deployment = mocks.one("aws:apigateway/deployment:Deployment")
        trigger = deployment.inputs["triggers"]["redeployment"]
        assert len(trigger) == 64 and int(trigger, 16) >= 0
        for name in ("images-get-integration", "images-options-integration"):
            assert depends_on(deployment, mocks.one("aws:apigateway/integration:Integration", name))
        stage = mocks.one("aws:apigateway/stage:Stage")
        assert stage.inputs["stageName"] == "prod"
        assert stage.inputs["xrayTracingEnabled"] is True
        assert stage.inputs["deployment"] == "images-deployment-id"
        assert endpoint == f"https://a1b2c3d4e5.execute-api.{REGION}.amazonaws.com/prod/random"

    return settled(svc.api_endpoint).apply(check)


@pulumi.runtime.test
def test_api_hash_changes_when_an_integration_changes_in_place(mocks):
    # An in-place update keeps the URN and the id: only the watched definitions can tell the versions apart.
    def integration(**definition: str) -> SimpleNamespace:
        fields = {"urn": "urn:pulumi:dev::aiops-demo::integration", "id": "agi-1", **definition}
        return SimpleNamespace(**{key: pulumi.Output.from_input(value) for key, value in fields.items()})

    base = {"type": "MOCK", "http_method": "OPTIONS", "content_handling": "CONVERT_TO_TEXT", "uri": ""}
    hashes = [
        _api_hash(integration(**base)),
        _api_hash(integration(**base)),
        _api_hash(integration(**(base | {"content_handling": "CONVERT_TO_BINARY"}))),
        _api_hash(integration(**(base | {"uri": "arn:aws:apigateway:us-west-2:lambda:path/other"}))),
        _api_hash(integration(**(base | {"http_method": "GET"}))),
    ]

    def check(values):
        first, same, *changed = values
        assert first == same
        assert all(value != first for value in changed)
        assert len(set(changed)) == len(changed)

    return pulumi.Output.all(*hashes).apply(check)


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
