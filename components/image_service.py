"""ImageService: the system under test — bucket, parameter, image_api, image_seeder and the REST API.

`curl <ApiEndpoint>` → API Gateway (REST, REGIONAL) → image_api Lambda → SSM parameter → S3 object.
The seeder fills the bucket once at deploy, from Bedrock or from its bundled samples.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.function import Instrumentation, PythonFunction, PythonFunctionArgs

STAGE_NAME = "prod"
ROUTE = "random"

# curl and browsers send `Accept: */*`; API Gateway decodes the function's base64 body to binary only
# when the Accept header matches a binary media type, and only "*/*" matches that header.
BINARY_MEDIA_TYPES = ["image/jpeg", "image/png", "*/*"]

CORS_HEADERS = {
    "Access-Control-Allow-Headers": "'Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token'",
    "Access-Control-Allow-Methods": "'GET,OPTIONS'",
    "Access-Control-Allow-Origin": "'*'",
}


@dataclass(frozen=True)
class ImageServiceArgs:
    prefix: str  # "<project>-<stack>": physical names, so two stacks can share an account
    region: str
    image_count: int
    image_model_id: str
    image_cache_ttl_seconds: int
    log_retention_days: int
    # Observability hooks: access logs on the stage, the resources the stage must wait for
    # (the API Gateway account's CloudWatch role), and Application Signals on image_api.
    stage_access_log: aws.apigateway.StageAccessLogSettingsArgs | None = None
    stage_depends_on: Sequence[pulumi.Resource] = ()
    api_instrumentation: Instrumentation = field(default_factory=Instrumentation)


def foundation_model_arn(region: str, model_id: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


class ImageService(pulumi.ComponentResource):
    """Serves a random image from S3 through API Gateway and Lambda."""

    bucket: aws.s3.Bucket
    parameter: aws.ssm.Parameter
    api_function: PythonFunction
    seeder_function: PythonFunction
    rest_api: aws.apigateway.RestApi
    stage: aws.apigateway.Stage
    api_endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: ImageServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiops:index:ImageService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.bucket, bucket_ready = self._bucket(name, child)
        self.parameter = aws.ssm.Parameter(
            f"{name}-bucket-name",
            name=f"/{args.prefix}/bucket-name",
            type="String",
            # Not a secret: `insecure_value` keeps it readable in diffs and state (`value` is always secret).
            insecure_value=self.bucket.bucket,
            description="Name of the image bucket read by the image function",
            opts=child,
        )
        self.api_function = self._api_function(name, args)
        self.seeder_function = self._seeder_function(name, args)
        # Run once at deploy (and again only if the model or count changes); the seeder is idempotent
        # and reports Bedrock failures in its result instead of failing the deploy.
        self.seeding = aws.lambda_.Invocation(
            f"{name}-seed",
            function_name=self.seeder_function.function.name,
            input=json.dumps({"reason": "deploy"}),
            triggers={"model": args.image_model_id, "count": str(args.image_count)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=bucket_ready),
        )
        self.rest_api, self.stage = self._api(name, args)
        self.api_endpoint = pulumi.Output.concat(self.stage.invoke_url, "/", ROUTE)

        self.register_outputs(
            {
                "bucketName": self.bucket.bucket,
                "parameterName": self.parameter.name,
                "apiFunctionName": self.api_function.function.name,
                "seederFunctionName": self.seeder_function.function.name,
                "seedResult": self.seeding.result,
                "apiEndpoint": self.api_endpoint,
            }
        )

    def _bucket(self, name: str, child: pulumi.ResourceOptions) -> tuple[aws.s3.Bucket, list[pulumi.Resource]]:
        bucket = aws.s3.Bucket(f"{name}-images", force_destroy=True, opts=child)  # emptied on destroy
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-images-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-images-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-images-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=child,
        )
        tls_only = aws.s3.BucketPolicy(
            f"{name}-images-tls-only",
            bucket=bucket.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            ),
            # The public access block must be in place before any policy is attached.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        return bucket, [public_access, ownership, encryption, tls_only]

    def _api_function(self, name: str, args: ImageServiceArgs) -> PythonFunction:
        instrumentation = args.api_instrumentation
        return PythonFunction(
            f"{name}-image-api",
            PythonFunctionArgs(
                code_dir="image_api",
                function_name=f"{args.prefix}-image-api",
                description="Returns a random image from the image bucket",
                log_retention_days=args.log_retention_days,
                timeout=30,
                environment={
                    "BUCKET_NAME_PARAMETER": self.parameter.name,
                    "IMAGE_CACHE_TTL_SECONDS": str(args.image_cache_ttl_seconds),
                    **instrumentation.environment,
                },
                layers=instrumentation.layers,
                managed_policy_arns=instrumentation.managed_policy_arns,
                statements=[
                    {
                        "Sid": "ReadBucketNameParameter",
                        "Effect": "Allow",
                        "Action": "ssm:GetParameter",
                        "Resource": self.parameter.arn,
                    },
                    {
                        "Sid": "ListImages",
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": self.bucket.arn,
                    },
                    {
                        "Sid": "ReadImages",
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": pulumi.Output.concat(self.bucket.arn, "/*"),
                    },
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _seeder_function(self, name: str, args: ImageServiceArgs) -> PythonFunction:
        return PythonFunction(
            f"{name}-image-seeder",
            PythonFunctionArgs(
                code_dir="image_seeder",
                function_name=f"{args.prefix}-image-seeder",
                description="Fills the image bucket once at deploy, from Bedrock or bundled samples",
                log_retention_days=args.log_retention_days,
                memory_size=1024,
                timeout=300,
                environment={
                    "BUCKET_NAME": self.bucket.bucket,
                    "MODEL_ID": args.image_model_id,
                    "IMAGE_COUNT": str(args.image_count),
                },
                statements=[
                    {
                        "Sid": "GenerateImages",
                        "Effect": "Allow",
                        "Action": "bedrock:InvokeModel",
                        "Resource": foundation_model_arn(args.region, args.image_model_id),
                    },
                    {
                        "Sid": "CheckForImages",
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": self.bucket.arn,
                    },
                    {
                        "Sid": "StoreImages",
                        "Effect": "Allow",
                        "Action": "s3:PutObject",
                        "Resource": pulumi.Output.concat(self.bucket.arn, "/*"),
                    },
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _api(self, name: str, args: ImageServiceArgs) -> tuple[aws.apigateway.RestApi, aws.apigateway.Stage]:
        child = pulumi.ResourceOptions(parent=self)
        api = aws.apigateway.RestApi(
            f"{name}-api",
            name=f"{args.prefix}-api",
            description="Random image service (aiops-demo)",
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(types="REGIONAL"),
            binary_media_types=BINARY_MEDIA_TYPES,
            opts=child,
        )
        resource = aws.apigateway.Resource(
            f"{name}-random", rest_api=api.id, parent_id=api.root_resource_id, path_part=ROUTE, opts=child
        )
        get = aws.apigateway.Method(
            f"{name}-get",
            rest_api=api.id,
            resource_id=resource.id,
            http_method="GET",
            authorization="NONE",
            opts=child,
        )
        get_integration = aws.apigateway.Integration(
            f"{name}-get-integration",
            rest_api=api.id,
            resource_id=resource.id,
            http_method=get.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=self.api_function.function.invoke_arn,
            opts=child,
        )
        options, options_parts = self._cors_preflight(name, api, resource)

        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=api.id,
            description="Managed by Pulumi; replaced when the API's routes change",
            # A deployment is a snapshot: without a trigger it would not follow method changes.
            triggers={"redeployment": _api_hash(resource, get, get_integration, options, *options_parts)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[get_integration, *options_parts]),
        )
        stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=api.id,
            deployment=deployment.id,
            stage_name=STAGE_NAME,
            description="Production stage",
            xray_tracing_enabled=True,
            access_log_settings=args.stage_access_log,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.stage_depends_on)),
        )
        aws.lambda_.Permission(
            f"{name}-api-invoke",
            action="lambda:InvokeFunction",
            function=self.api_function.function.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(api.execution_arn, f"/*/GET/{ROUTE}"),
            opts=child,
        )
        return api, stage

    def _cors_preflight(
        self, name: str, api: aws.apigateway.RestApi, resource: aws.apigateway.Resource
    ) -> tuple[aws.apigateway.Method, list[pulumi.CustomResource]]:
        child = pulumi.ResourceOptions(parent=self)
        options = aws.apigateway.Method(
            f"{name}-options",
            rest_api=api.id,
            resource_id=resource.id,
            http_method="OPTIONS",
            authorization="NONE",
            opts=child,
        )
        integration = aws.apigateway.Integration(
            f"{name}-options-integration",
            rest_api=api.id,
            resource_id=resource.id,
            http_method=options.http_method,
            type="MOCK",
            request_templates={"application/json": json.dumps({"statusCode": 200})},
            # With "*/*" as a binary media type the preflight body would be binary and the
            # mapping template could not run; convert it to text first.
            content_handling="CONVERT_TO_TEXT",
            opts=child,
        )
        method_response = aws.apigateway.MethodResponse(
            f"{name}-options-200",
            rest_api=api.id,
            resource_id=resource.id,
            http_method=options.http_method,
            status_code="200",
            response_parameters={f"method.response.header.{h}": True for h in CORS_HEADERS},
            opts=child,
        )
        integration_response = aws.apigateway.IntegrationResponse(
            f"{name}-options-integration-200",
            rest_api=api.id,
            resource_id=resource.id,
            http_method=options.http_method,
            status_code=method_response.status_code,
            response_parameters={f"method.response.header.{h}": v for h, v in CORS_HEADERS.items()},
            response_templates={"application/json": ""},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[integration]),
        )
        return options, [integration, method_response, integration_response]


def _api_hash(*parts: pulumi.CustomResource) -> pulumi.Output[str]:
    """A digest of everything a deployment snapshots: ids and the definitions that can change in place."""
    watched = (
        "path_part",
        "http_method",
        "authorization",
        "type",
        "uri",
        "integration_http_method",
        "content_handling",
        "request_templates",
        "response_parameters",
        "response_templates",
        "status_code",
    )
    definition = [
        {"urn": part.urn, "id": part.id, **{key: getattr(part, key) for key in watched if hasattr(part, key)}}
        for part in parts
    ]
    return pulumi.Output.json_dumps(definition).apply(lambda text: hashlib.sha256(text.encode()).hexdigest())
