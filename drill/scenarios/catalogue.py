"""The catalogue: one scenario per root-cause kind the investigator names on the request path, and the two
partial faults of AWS FIS (a stack deployed with fisEnabled=true).

`no_images` is left out on purpose: emptying the bucket cannot be undone without copying every object
somewhere first, and any copy can be lost (issue 19: only "without any risk of losing an object").
"""

from __future__ import annotations

from drill import stack
from drill.outputs import RECORD_TABLE, REST_API_ID, STANDBY_ROLE
from drill.scenarios import fis, function, parameter, role, stage
from drill.scenarios.model import Scenario
from drill.steps.model import Drill

SEED = "bucket_policy_deny"
RECORD_CALLS = ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Scan", "dynamodb:DeleteItem")
ARMING_CALLS = ("cloudwatch:DescribeAlarms", "cloudwatch:DisableAlarmActions", "cloudwatch:EnableAlarmActions")


def _needs(*outputs: str):
    def unavailable(drill: Drill) -> str | None:
        missing = [key for key in (RECORD_TABLE, *outputs) if not drill.outputs.get(key)]
        if missing:
            return f"stack output {', '.join(missing)} missing from {drill.outputs.origin}"
        return None

    return unavailable


def _seed_unavailable(drill: Drill) -> str | None:
    if not drill.outputs.fault_chain:
        return (
            "this stack was deployed without the fault chain (faultInjectionEnabled=false): outputs "
            f"{stack.FAULT_FUNCTION} and {stack.INVOCATIONS_ALARM} are absent"
        )
    return _needs(stack.BUCKET)(drill)


FUNCTION_CONFIG = ("lambda:GetFunctionConfiguration", "lambda:UpdateFunctionConfiguration")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name=SEED,
        kind="bucket_policy_deny",
        resource="the image bucket's policy",
        mechanism="fault-function",
        summary="the seed's fault: arm the invocations alarm and set it to ALARM; its action adds a Deny for the "
        "image role to the bucket policy",
        undo="the fault function's restore (else directly) removes exactly its two statements, keeping every "
        "other edit; the alarm's arming is put back by the re-arm rule",
        calls=(
            *ARMING_CALLS,
            "cloudwatch:SetAlarmState",
            "s3:GetBucketPolicy",
            "lambda:Invoke",
            "s3:PutBucketPolicy",
            "s3:DeleteBucketPolicy",
            "cloudwatch:GetMetricStatistics",
        ),
        unavailable=_seed_unavailable,
        resource_name=lambda drill: drill.outputs.require(stack.BUCKET),
    ),
    Scenario(
        name="role_permission_missing",
        kind="role_permission_missing",
        resource="the image function's role (an inline policy)",
        mechanism="direct",
        summary=f"add the inline policy {role.POLICY_NAME} to the image role: Deny s3:GetObject and s3:ListBucket "
        "on the image bucket",
        undo=f"delete the inline policy {role.POLICY_NAME} (or put back the one of that name that was there)",
        calls=("iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"),
        unavailable=_needs(stack.BUCKET),
        resource_name=role.role_name,
        read=role.read_inline_policy,
        target=role.deny_images,
        write=role.write_inline_policy,
    ),
    Scenario(
        name="parameter_wrong_bucket",
        kind="parameter_wrong_bucket",
        resource="the bucket-name parameter's value",
        mechanism="direct",
        summary="overwrite the parameter with a bucket name that does not exist "
        f"(<bucket>{parameter.WRONG_BUCKET_SUFFIX})",
        undo="overwrite it again with the recorded value, type, data type, tier and description",
        calls=(
            "ssm:GetParameter",
            "ssm:DescribeParameters",
            "ssm:ListTagsForResource",
            "ssm:PutParameter",
        ),
        unavailable=_needs(stack.PARAMETER, stack.BUCKET),
        resource_name=parameter.parameter_name,
        read=parameter.read_parameter,
        target=parameter.wrong_bucket,
        write=parameter.write_parameter,
    ),
    Scenario(
        name="parameter_missing",
        kind="parameter_missing",
        resource="the bucket-name parameter",
        mechanism="direct",
        summary="delete the parameter the image function reads its bucket name from",
        undo="create it again with the recorded value, type, data type, tier, description and tags",
        calls=(
            "ssm:GetParameter",
            "ssm:DescribeParameters",
            "ssm:ListTagsForResource",
            "ssm:DeleteParameter",
            "ssm:PutParameter",
            "ssm:AddTagsToResource",
        ),
        unavailable=_needs(stack.PARAMETER),
        resource_name=parameter.parameter_name,
        read=parameter.read_parameter,
        target=lambda _drill, _prior: None,
        write=parameter.write_parameter,
    ),
    Scenario(
        name="function_throttled",
        kind="function_throttled",
        resource="the image function's reserved concurrency",
        mechanism="direct",
        summary="reserve 0 concurrent executions for the image function: every invocation is throttled",
        undo="put the recorded reserved concurrency back, or delete it when there was none",
        calls=("lambda:GetFunctionConcurrency", "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency"),
        unavailable=_needs(stack.IMAGE_FUNCTION),
        resource_name=function.function_name,
        read=function.read_concurrency,
        target=lambda _drill, _prior: 0,
        write=function.write_concurrency,
    ),
    Scenario(
        name="function_environment_changed",
        kind="function_environment_changed",
        resource="the image function's environment",
        mechanism="direct",
        summary="point BUCKET_NAME_PARAMETER at a parameter that does not exist (<parameter>-gameday-missing)",
        undo="put the recorded environment back, every variable as it was",
        calls=FUNCTION_CONFIG,
        unavailable=_needs(stack.IMAGE_FUNCTION, stack.PARAMETER),
        resource_name=function.function_name,
        read=function.read_environment,
        target=lambda drill, prior: {
            **prior,
            "BUCKET_NAME_PARAMETER": drill.outputs.require(stack.PARAMETER) + "-gameday-missing",
        },
        write=function.write_environment,
    ),
    Scenario(
        name="function_role_changed",
        kind="function_role_changed",
        resource="the image function's execution role",
        mechanism="direct",
        summary=f"run the image function under the stack's standby role (output {STANDBY_ROLE}), which has no "
        "permissions",
        undo="give the function its recorded role back (the standby role belongs to the stack: nothing is left over)",
        calls=FUNCTION_CONFIG,  # and iam:PassRole on both roles (UpdateFunctionConfiguration with Role)
        unavailable=_needs(stack.IMAGE_FUNCTION, STANDBY_ROLE),
        resource_name=function.function_name,
        read=function.read_role,
        target=lambda drill, _prior: drill.outputs.require(STANDBY_ROLE),
        write=function.write_role,
    ),
    Scenario(
        name="api_permission_missing",
        kind="api_permission_missing",
        resource="the image function's resource policy",
        mechanism="direct",
        summary="remove every statement that lets API Gateway invoke the image function",
        undo="add each recorded statement back with its Sid, action, principal, source ARN and account",
        calls=("lambda:GetPolicy", "lambda:RemovePermission", "lambda:AddPermission"),
        unavailable=_needs(stack.IMAGE_FUNCTION),
        resource_name=function.function_name,
        read=function.read_api_permissions,
        target=function.no_api_permissions,
        write=function.write_api_permissions,
    ),
    Scenario(
        name="api_throttled",
        kind="api_throttled",
        resource=f"the {stage.STAGE} stage's method settings ({stage.ALL_METHODS} throttling)",
        mechanism="direct",
        summary="set the stage-wide rate and burst limits to 0: API Gateway answers 429 to every request",
        undo="patch the recorded rate and burst limits back (the other method settings are never touched)",
        calls=("apigateway:GetStage", "apigateway:UpdateStage"),
        unavailable=_needs(REST_API_ID),
        resource_name=lambda drill: f"{drill.outputs.require(REST_API_ID)}/{stage.STAGE}",
        read=stage.read_throttling,
        target=stage.zero_throttling,
        write=stage.write_throttling,
    ),
    Scenario(
        name=fis.LATENCY,
        kind="fis_latency_injected",
        resource="an experiment of the stack's FIS latency template (the image function's invocations)",
        mechanism="fis",
        summary="start the latency experiment: the FIS extension adds fisLatencyDelayMilliseconds to "
        "fisLatencyPercentage% of the image function's invocations for fisLatencyDurationMinutes",
        undo="stop the experiment, wait until it is stopped and FIS has removed the extension's configuration, "
        "then the extension's ramp-down; an experiment that ended by itself leaves nothing to undo",
        calls=fis.CALLS,
        unavailable=fis.unavailable(fis.LATENCY),
        resource_name=lambda drill: f"experiment template {fis.template_id(drill, fis.LATENCY)}",
    ),
    Scenario(
        name=fis.ERRORS,
        kind="fis_errors_injected",
        resource="an experiment of the stack's FIS errors template (the image function's invocations)",
        mechanism="fis",
        summary="start the errors experiment: the FIS extension fails fisErrorsPercentage% of the image "
        "function's invocations (the handler does not run) for fisErrorsDurationMinutes",
        undo="stop the experiment, wait until it is stopped and FIS has removed the extension's configuration, "
        "then the extension's ramp-down; an experiment that ended by itself leaves nothing to undo",
        calls=fis.CALLS,
        unavailable=fis.unavailable(fis.ERRORS),
        resource_name=lambda drill: f"experiment template {fis.template_id(drill, fis.ERRORS)}",
    ),
)

BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
NAMES = tuple(BY_NAME)
