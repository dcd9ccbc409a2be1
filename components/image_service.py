"""ImageService: the system under test — bucket, parameter, image_api, image_seeder and the REST API.

`curl <ApiEndpoint>` → API Gateway (REST, REGIONAL) → image_api Lambda → SSM parameter → S3 object.
The seeder fills the bucket once at deploy, from Bedrock or from its bundled samples.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.config import Settings
from components.function import Instrumentation, PythonFunction, PythonFunctionArgs
from components.names import BUCKET_NAME_PARAMETER, IMAGE_API_FUNCTION, IMAGE_SEEDER_FUNCTION, REST_API_NAME
from components.rest_api import (
    ROUTE,
    STAGE_NAME,
    document_body,
    document_hash,
    function_invoke_arn,
    openapi_document,
)
from components.seeder_iam import foundation_model_arn, marketplace_granted, seeder_statements

__all__ = ["ROUTE", "STAGE_NAME", "ImageService", "ImageServiceArgs", "foundation_model_arn"]


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

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        stage_access_log: aws.apigateway.StageAccessLogSettingsArgs | None = None,
        stage_depends_on: Sequence[pulumi.Resource] = (),
        api_instrumentation: Instrumentation | None = None,
    ) -> ImageServiceArgs:
        """The settings' fields from the stack's settings (their defaults are config.DEFAULTS), with the hooks."""
        return cls(
            prefix=settings.prefix,
            region=settings.region,
            image_count=settings.image_count,
            image_model_id=settings.image_model_id,
            image_cache_ttl_seconds=settings.image_cache_ttl_seconds,
            log_retention_days=settings.log_retention_days,
            stage_access_log=stage_access_log,
            stage_depends_on=stage_depends_on,
            api_instrumentation=api_instrumentation or Instrumentation(),
        )


def parameter_name(prefix: str) -> str:
    return BUCKET_NAME_PARAMETER.of(prefix)


def api_function_name(prefix: str) -> str:
    return IMAGE_API_FUNCTION.of(prefix)


def parameter_arn(region: str, account: pulumi.Input[str], name: str) -> pulumi.Output[str]:
    """The parameter's ARN from its name (which starts with "/"), so readers need not wait for it."""
    return pulumi.Output.concat("arn:aws:ssm:", region, ":", account, ":parameter", name)


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
        # Names are deterministic, so ARNs built from them let readers start without waiting for the
        # resource (the deploy's critical path stays short); ordering that matters is explicit.
        self._account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        self._parameter_name = parameter_name(args.prefix)

        self.bucket, bucket_ready = self._bucket(name, child)
        self.parameter = aws.ssm.Parameter(
            f"{name}-bucket-name",
            name=self._parameter_name,
            type="String",
            # Not a secret: `insecure_value` keeps it readable in diffs and state (`value` is always secret).
            insecure_value=self.bucket.bucket,
            description="Name of the image bucket read by the image function",
            opts=child,
        )
        self.api_function = self._api_function(name, args)
        self.seeder_function = self._seeder_function(name, args)
        # Run at deploy, and again when the model, the count or the bucket (a replaced, empty one)
        # changes; the seeder decides what a re-run means and reports Bedrock failures in its result
        # instead of failing the deploy. It runs only once its role's policy is in place.
        self.seeding = aws.lambda_.Invocation(
            f"{name}-seed",
            function_name=self.seeder_function.function.name,
            input=json.dumps({"reason": "deploy"}),
            triggers={"model": args.image_model_id, "count": str(args.image_count), "bucket": self.bucket.bucket},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*bucket_ready, *self.seeder_function.invoke_ready]),
        )
        self.rest_api, self.stage = self._api(name, args)
        self.api_endpoint = pulumi.Output.concat(self.stage.invoke_url, "/", ROUTE)

        self.register_outputs(
            {
                "bucketName": self.bucket.bucket,
                "parameterName": self.parameter.name,
                "apiFunctionName": self.api_function.function.name,
                "apiFunctionRoleArn": self.api_function.role.arn,
                "seederFunctionName": self.seeder_function.function.name,
                "seedResult": self.seeding.result,
                "restApiId": self.rest_api.id,
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
                function_name=api_function_name(args.prefix),
                description="Returns a random image from the image bucket",
                log_retention_days=args.log_retention_days,
                timeout=30,
                environment={
                    "BUCKET_NAME_PARAMETER": self._parameter_name,
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
                        "Resource": parameter_arn(args.region, self._account, self._parameter_name),
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
                    *instrumentation.statements,
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _seeder_function(self, name: str, args: ImageServiceArgs) -> PythonFunction:
        return PythonFunction(
            f"{name}-image-seeder",
            PythonFunctionArgs(
                code_dir="image_seeder",
                function_name=IMAGE_SEEDER_FUNCTION.of(args.prefix),
                description="Fills the image bucket once at deploy, from Bedrock or bundled samples",
                log_retention_days=args.log_retention_days,
                memory_size=1024,
                timeout=300,
                environment={
                    "BUCKET_NAME": self.bucket.bucket,
                    "MODEL_ID": args.image_model_id,
                    "IMAGE_COUNT": str(args.image_count),
                    # Without Marketplace actions a Marketplace denial is certain: the seeder does not wait it out.
                    "MARKETPLACE_GRANTED": str(marketplace_granted(args.image_model_id)).lower(),
                },
                statements=seeder_statements(self.bucket.arn, args.region, args.image_model_id),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _api(self, name: str, args: ImageServiceArgs) -> tuple[aws.apigateway.RestApi, aws.apigateway.Stage]:
        child = pulumi.ResourceOptions(parent=self)
        api_name = REST_API_NAME.of(args.prefix)
        description = "Random image service (aiops-demo)"
        invoke_arn = self._account.apply(
            lambda account: function_invoke_arn(args.region, account, api_function_name(args.prefix))
        )
        body = invoke_arn.apply(lambda arn: document_body(openapi_document(api_name, description, arn)))
        api = aws.apigateway.RestApi(
            f"{name}-api",
            name=api_name,
            description=description,
            body=body,
            # Without it API Gateway imports what it can and drops its warnings: a rejected part of the
            # document (the OPTIONS mock, a gateway response) would be silently missing from the deployment.
            fail_on_warnings=True,
            # The endpoint type is not part of the document (API Gateway takes it as an import parameter).
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(types="REGIONAL"),
            opts=child,
        )
        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=api.id,
            description="Managed by Pulumi; replaced when the API's OpenAPI document changes",
            # A deployment is a snapshot: the document's hash makes every change to it a new deployment.
            triggers={"redeployment": body.apply(document_hash)},
            opts=child,
        )
        # The API does not wait for the function: the stage (the moment traffic can arrive) waits for the
        # permission, which waits for the function, for the function's role policies, and for the
        # parameter the function reads on its first request.
        permission = aws.lambda_.Permission(
            f"{name}-api-invoke",
            action="lambda:InvokeFunction",
            function=self.api_function.function.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(api.execution_arn, f"/*/GET/{ROUTE}"),
            opts=child,
        )
        stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=api.id,
            deployment=deployment.id,
            stage_name=STAGE_NAME,
            description="Production stage",
            xray_tracing_enabled=True,
            access_log_settings=args.stage_access_log,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*args.stage_depends_on, permission, *self.api_function.invoke_ready, self.parameter],
            ),
        )
        return api, stage
