"""DrillSupport under Pulumi mocks, through the whole program: the record table, the standby role and the
`<prefix>-drill-operator` policy, pinned statement by statement."""

from __future__ import annotations

import json

import pytest
from conftest import ACCOUNT, REGION, program_run

from components.function import XRAY_WRITE
from drill import outputs as drill_outputs

PREFIX = "aiops-demo-dev"
TABLE = "aws:dynamodb/table:Table"
POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"
BUCKET_ARN = "arn:aws:s3:::images-images-a1b2c3"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PREFIX}-image-api"
IMAGE_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/images-image-api-role-a1b2c3"
STANDBY_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/drill-standby-role-a1b2c3"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:drill-records"  # the mocks' ARN for the table resource


def expected_statements(table_arn: str, fault_chain: bool) -> list[dict]:
    statements = [
        {
            "Sid": "DrillRecord",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"],
            "Resource": table_arn,
        },
        {
            "Sid": "BucketPolicy",
            "Effect": "Allow",
            "Action": ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"],
            "Resource": BUCKET_ARN,
        },
        {
            "Sid": "Parameter",
            "Effect": "Allow",
            "Action": [
                "ssm:GetParameter",
                "ssm:PutParameter",
                "ssm:DeleteParameter",
                "ssm:ListTagsForResource",
                "ssm:AddTagsToResource",
            ],
            "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{PREFIX}/bucket-name",
        },
        {"Sid": "DescribeParameters", "Effect": "Allow", "Action": "ssm:DescribeParameters", "Resource": "*"},
        {
            "Sid": "ImageFunction",
            "Effect": "Allow",
            "Action": [
                "lambda:GetFunctionConfiguration",
                "lambda:UpdateFunctionConfiguration",
                "lambda:GetFunctionConcurrency",
                "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency",
                "lambda:GetPolicy",
                "lambda:AddPermission",
                "lambda:RemovePermission",
            ],
            "Resource": FUNCTION_ARN,
        },
        {
            "Sid": "PassFunctionRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": [IMAGE_ROLE_ARN, STANDBY_ROLE_ARN],
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        },
        {
            "Sid": "ImageRoleInlinePolicy",
            "Effect": "Allow",
            "Action": ["iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"],
            "Resource": IMAGE_ROLE_ARN,
        },
        {
            "Sid": "StageSettings",
            "Effect": "Allow",
            "Action": ["apigateway:GET", "apigateway:PATCH"],
            "Resource": f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5/stages/prod",
        },
        {"Sid": "ReadMetrics", "Effect": "Allow", "Action": "cloudwatch:GetMetricStatistics", "Resource": "*"},
        *expected_investigator_statements(fault_chain),
    ]
    if fault_chain:
        statements += [
            {
                "Sid": "InvocationsAlarm",
                "Effect": "Allow",
                "Action": [
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:EnableAlarmActions",
                    "cloudwatch:DisableAlarmActions",
                    "cloudwatch:SetAlarmState",
                ],
                "Resource": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{PREFIX}-lambda-trigger-alarm",
            },
            {
                "Sid": "FaultFunctionRestore",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PREFIX}-fault-injector",
            },
        ]
    return statements


def expected_investigator_statements(fault_chain: bool) -> list[dict]:
    """What `investigate` (run by `gameday`) reads beyond the catalogue's own statements."""
    alarms = [f"{PREFIX}-api-5xx-alarm", f"{PREFIX}-image-api-errors-alarm", f"{PREFIX}-api-latency-alarm"]
    if fault_chain:
        alarms.insert(0, f"{PREFIX}-lambda-trigger-alarm")
    logs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
    return [
        {"Sid": "InvestigateBucket", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET_ARN},
        {
            "Sid": "InvestigateRoles",
            "Effect": "Allow",
            "Action": [
                "iam:GetRole",
                "iam:ListRoleTags",
                "iam:ListRolePolicies",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:SimulatePrincipalPolicy",
            ],
            "Resource": [IMAGE_ROLE_ARN, STANDBY_ROLE_ARN],
        },
        {
            "Sid": "InvestigateManagedPolicies",
            "Effect": "Allow",
            "Action": ["iam:GetPolicy", "iam:GetPolicyVersion"],
            "Resource": [f"arn:aws:iam::{ACCOUNT}:policy/*", "arn:aws:iam::aws:policy/*"],
        },
        {
            "Sid": "InvestigateAlarms",
            "Effect": "Allow",
            "Action": ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"],
            "Resource": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}" for name in alarms],
        },
        {"Sid": "InvestigateMetrics", "Effect": "Allow", "Action": "cloudwatch:GetMetricData", "Resource": "*"},
        {
            "Sid": "InvestigateLogs",
            "Effect": "Allow",
            "Action": "logs:FilterLogEvents",
            "Resource": [
                f"{logs}/aws/lambda/{PREFIX}-image-api:*",
                f"{logs}/aws/apigateway/{PREFIX}-api-access:*",
            ],
        },
        {
            "Sid": "InvestigateApi",
            "Effect": "Allow",
            "Action": "apigateway:GET",
            "Resource": f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5",
        },
        {
            "Sid": "InvestigateHistoryAndTags",
            "Effect": "Allow",
            "Action": ["cloudtrail:LookupEvents", "tag:GetResources"],
            "Resource": "*",
        },
    ]


def expected_fis_statements(template_ids: list[str]) -> list[dict]:
    """The FIS scenarios' calls (fisEnabled=true): this stack's templates, experiments, the configuration prefix."""
    experiments = f"arn:aws:fis:{REGION}:{ACCOUNT}:experiment/*"
    return [
        {
            "Sid": "FisStartExperiments",
            "Effect": "Allow",
            "Action": "fis:StartExperiment",
            "Resource": [
                *(f"arn:aws:fis:{REGION}:{ACCOUNT}:experiment-template/{t}" for t in template_ids),
                experiments,
            ],
        },
        {
            "Sid": "FisExperiments",
            "Effect": "Allow",
            "Action": ["fis:TagResource", "fis:GetExperiment", "fis:StopExperiment"],
            "Resource": experiments,
        },
        {"Sid": "FisListExperiments", "Effect": "Allow", "Action": "fis:ListExperiments", "Resource": "*"},
        {
            "Sid": "FisServiceLinkedRole",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/fis.amazonaws.com/AWSServiceRoleForFIS",
            "Condition": {"StringEquals": {"iam:AWSServiceName": "fis.amazonaws.com"}},
        },
        {
            "Sid": "LatencyAlarm",
            "Effect": "Allow",
            "Action": "cloudwatch:DescribeAlarms",
            "Resource": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{PREFIX}-api-latency-alarm",
        },
        {
            "Sid": "FisConfiguration",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::fis-config-bucket-a1b2c3",
            "Condition": {"StringLike": {"s3:prefix": ["FisConfigs/*"]}},
        },
    ]


# The config of each combination: the fault chain is on and FIS off by default.
COMBINATIONS = {(True, False): {}, (False, False): {"faultInjectionEnabled": False}, (True, True): {"fisEnabled": True}}


@pytest.mark.parametrize(("fault_chain", "fis"), list(COMBINATIONS))
def test_operator_policy_is_exactly_what_the_catalogue_needs_by_arn(fault_chain, fis):
    run = program_run(COMBINATIONS[fault_chain, fis])
    mocks, outputs = run.mocks, run.outputs
    template_ids = [outputs[k] for k in (drill_outputs.FIS_LATENCY_TEMPLATE, drill_outputs.FIS_ERRORS_TEMPLATE) if fis]
    policy = mocks.one(POLICY, "drill-operator").inputs
    assert policy["name"] == f"{PREFIX}-drill-operator"
    assert outputs["DrillOperatorPolicyArn"] == f"arn:aws:iam::{ACCOUNT}:policy/{PREFIX}-drill-operator"
    document = json.loads(policy["policy"])
    assert document["Version"] == "2012-10-17"
    fis_part = expected_fis_statements(template_ids) if fis else []
    assert document["Statement"] == expected_statements(TABLE_ARN, fault_chain) + fis_part
    assert len(template_ids) == (2 if fis else 0)


def test_record_table_standby_role_and_outputs():
    """One program run: the table is on demand, keyed by scenario and goes with the stack; the standby role
    has no permission; no function role can touch the table; the outputs carry the drill's names."""
    run = program_run()
    mocks, outputs = run.mocks, run.outputs
    assert {drill_outputs.OPERATOR_POLICY, drill_outputs.RECORD_TABLE, drill_outputs.STANDBY_ROLE} <= set(outputs)
    assert {drill_outputs.REST_API_ID, drill_outputs.IMAGE_ROLE} <= set(outputs)

    table = mocks.one(TABLE).inputs
    assert outputs["DrillRecordTableName"] == table["name"] == f"{PREFIX}-drill-records"
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["hashKey"] == "scenario"
    assert table["attributes"] == [{"name": "scenario", "type": "S"}]
    assert table["deletionProtectionEnabled"] is False  # `pulumi destroy` removes it with its records
    # The standby role: trusted by Lambda, allowed X-Ray writes only (no attachment, no other statement).
    standby = mocks.one(ROLE, "drill-standby-role")
    assert outputs["DrillStandbyRoleArn"] == STANDBY_ROLE_ARN
    trust = json.loads(standby.inputs["assumeRolePolicy"])["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    attachments = mocks.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    role_policies = mocks.of_type("aws:iam/rolePolicy:RolePolicy")
    standby_policies = [r for r in role_policies + attachments if str(r.inputs["role"]).startswith("drill-standby")]
    assert [json.loads(p.inputs["policy"])["Statement"] for p in standby_policies] == [[XRAY_WRITE]]
    # No function role may read the record: no DynamoDB action (nor "*") in any of their policies, and
    # the operator policy is attached to nothing (facilitators attach it to their own role).
    assert len(role_policies) >= 4  # the image, seeder, fault and standby roles
    for policy in role_policies:
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not [a for a in actions if a.startswith("dynamodb:") or a == "*"], policy.name
    assert not [a for a in attachments if "drill-operator" in str(a.inputs["policyArn"])]
