"""DrillSupport: what the game day needs from the stack — the drill's record store, a standby role, and
the managed policy `<prefix>-drill-operator` that a facilitator attaches to their own role.

The record store is a DynamoDB table (on demand, one item per active scenario, keyed by its name):
  * an item holds up to 400 KB, and the largest prior state the drill records is a bucket policy of up to
    20 KB; a standard SSM parameter holds 4 KB and an advanced one 8 KB, too small;
  * a conditional put (`attribute_not_exists`) makes "the same scenario twice records once" a property of
    the store, not of the drill's process, so two operators on two machines cannot both record it;
  * `pulumi destroy` deletes the table with its items (no force_destroy needed), and no deletion
    protection keeps it from going;
  * DynamoDB encrypts every table at rest; access is by identity policy only (the table has no resource
    policy), and no function role of this stack has any DynamoDB permission: the image function cannot
    read the record.
The standby role is the "other role" of the `function_role_changed` scenario: trusted by Lambda, allowed
only X-Ray writes (what Lambda checks for a function with Active tracing), none of the image function's
permissions. The stack owns it, so the drill never creates (or leaves behind) a role.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.fault_experiments import CONFIGURATION_PREFIX
from components.function import LAMBDA_TRUST, XRAY_WRITE
from components.image_service import STAGE_NAME, api_function_name, parameter_name
from components.names import (
    API_5XX_ALARM,
    API_ACCESS_LOG_GROUP,
    API_LATENCY_ALARM,
    DRILL_OPERATOR_POLICY,
    DRILL_RECORD_TABLE,
    IMAGE_API_ERRORS_ALARM,
    function_log_group,
)

RECORD_KEY = "scenario"  # the table's hash key: one item per active scenario


@dataclass(frozen=True)
class DrillSupportArgs:
    prefix: str
    region: str
    bucket_arn: pulumi.Input[str]
    function_role_arn: pulumi.Input[str]  # the image function's own role (put back by restore)
    rest_api_id: pulumi.Input[str]
    invocations_alarm_name: pulumi.Input[str] | None = None  # the fault chain's alarm; None without the chain
    fault_function_name: pulumi.Input[str] | None = None
    # The FIS experiments' (fisEnabled=true): the two templates' ids and the configuration bucket; else empty.
    fis_template_ids: Sequence[pulumi.Input[str]] = ()
    fis_configuration_bucket_arn: pulumi.Input[str] | None = None


def _arn(service: str, region: str, account: pulumi.Input[str], resource: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:aws:", service, ":", region, ":", account, ":", resource)


def operator_statements(
    args: DrillSupportArgs,
    account: pulumi.Input[str],
    table_arn: pulumi.Input[str],
    standby_role_arn: pulumi.Input[str],
) -> list[dict[str, Any]]:
    """Exactly what the catalogue, its record and restore call, and what the investigator `gameday` runs
    reads (investigator_statements), by ARN (one statement per purpose)."""
    region = args.region
    function_arn = _arn("lambda", region, account, f"function:{api_function_name(args.prefix)}")
    parameter_arn = _arn("ssm", region, account, f"parameter{parameter_name(args.prefix)}")
    stage_arn = pulumi.Output.concat(
        "arn:aws:apigateway:", region, "::/restapis/", args.rest_api_id, "/stages/", STAGE_NAME
    )
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DrillRecord",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"],
            "Resource": table_arn,
        },
        {
            "Sid": "BucketPolicy",  # bucket_policy_deny's record and its direct restore path
            "Effect": "Allow",
            "Action": ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"],
            "Resource": args.bucket_arn,
        },
        {
            "Sid": "Parameter",  # parameter_wrong_bucket, parameter_missing (tags come back with the parameter)
            "Effect": "Allow",
            "Action": [
                "ssm:GetParameter",
                "ssm:PutParameter",
                "ssm:DeleteParameter",
                "ssm:ListTagsForResource",
                "ssm:AddTagsToResource",
            ],
            "Resource": parameter_arn,
        },
        {
            # The parameter's description and tier (needed to recreate it exactly) come only from
            # DescribeParameters, which supports no resource-level permission: AWS offers nothing narrower.
            "Sid": "DescribeParameters",
            "Effect": "Allow",
            "Action": "ssm:DescribeParameters",
            "Resource": "*",
        },
        {
            "Sid": "ImageFunction",  # environment, role, concurrency and resource-policy scenarios
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
            "Resource": function_arn,
        },
        {
            "Sid": "PassFunctionRoles",  # function_role_changed: to the standby role and back
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": [args.function_role_arn, standby_role_arn],
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        },
        {
            "Sid": "ImageRoleInlinePolicy",  # role_permission_missing
            "Effect": "Allow",
            "Action": ["iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"],
            "Resource": args.function_role_arn,
        },
        {
            "Sid": "StageSettings",  # api_throttled: read and patch the stage's method settings
            "Effect": "Allow",
            "Action": ["apigateway:GET", "apigateway:PATCH"],
            "Resource": stage_arn,
        },
        {
            # The re-arm rule reads the alarm's metric; GetMetricStatistics has no resource-level
            # permission: AWS offers nothing narrower.
            "Sid": "ReadMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:GetMetricStatistics",
            "Resource": "*",
        },
        *investigator_statements(args, account, standby_role_arn),
    ]
    if args.invocations_alarm_name:
        statements.append(
            {
                "Sid": "InvocationsAlarm",  # disarm while a scenario is active; the seed's SetAlarmState
                "Effect": "Allow",
                "Action": [
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:EnableAlarmActions",
                    "cloudwatch:DisableAlarmActions",
                    "cloudwatch:SetAlarmState",
                ],
                "Resource": _arn(
                    "cloudwatch", region, account, pulumi.Output.concat("alarm:", args.invocations_alarm_name)
                ),
            }
        )
    if args.fault_function_name:
        statements.append(
            {
                "Sid": "FaultFunctionRestore",  # restore through the fault function first
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": _arn(
                    "lambda", region, account, pulumi.Output.concat("function:", args.fault_function_name)
                ),
            }
        )
    if args.fis_template_ids:
        statements += fis_statements(args, account)
    return statements


FIS_SERVICE = "fis.amazonaws.com"


def fis_statements(args: DrillSupportArgs, account: pulumi.Input[str]) -> list[dict[str, Any]]:
    """What the FIS scenarios (drill/scenarios/fis.py) call: start an experiment from this stack's two templates,
    read, list and stop experiments, list the configuration prefix, and read the latency alarm (trigger's and
    gameday's symptom). Resource types: https://docs.aws.amazon.com/service-authorization/latest/reference/
    list_awsfaultinjectionservice.html."""
    experiments = _arn("fis", args.region, account, "experiment/*")
    templates = [
        _arn("fis", args.region, account, pulumi.Output.concat("experiment-template/", t))
        for t in args.fis_template_ids
    ]
    statements: list[dict[str, Any]] = [
        {
            # StartExperiment is authorized on the template and on the experiment it creates, whose id nobody
            # knows before: `experiment/*` is the narrowest AWS offers for the second.
            "Sid": "FisStartExperiments",
            "Effect": "Allow",
            "Action": "fis:StartExperiment",
            "Resource": [*templates, experiments],
        },
        {
            # The tags StartExperiment puts on the new experiment (who started it, the record's client token):
            # tagging on create is authorized as fis:TagResource. GetExperiment and StopExperiment take the id
            # from the record or from ListExperiments: experiments have no name to narrow by.
            "Sid": "FisExperiments",
            "Effect": "Allow",
            "Action": ["fis:TagResource", "fis:GetExperiment", "fis:StopExperiment"],
            "Resource": experiments,
        },
        {
            # ListExperiments (restore's way back to an experiment whose id never reached the record) supports no
            # resource-level permission: AWS offers nothing narrower.
            "Sid": "FisListExperiments",
            "Effect": "Allow",
            "Action": "fis:ListExperiments",
            "Resource": "*",
        },
        {
            # The first experiment of an account creates FIS's service-linked role with the caller's permissions
            # (fis/latest/userguide/start-experiment-from-template.html, using-service-linked-roles.html).
            "Sid": "FisServiceLinkedRole",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": pulumi.Output.concat(
                "arn:aws:iam::", account, f":role/aws-service-role/{FIS_SERVICE}/AWSServiceRoleForFIS"
            ),
            "Condition": {"StringEquals": {"iam:AWSServiceName": FIS_SERVICE}},
        },
        {
            "Sid": "LatencyAlarm",  # trigger/gameday of a FIS scenario wait for it under traffic
            "Effect": "Allow",
            "Action": "cloudwatch:DescribeAlarms",
            "Resource": _arn(
                "cloudwatch", args.region, account, pulumi.Output.concat("alarm:", API_LATENCY_ALARM.of(args.prefix))
            ),
        },
    ]
    if args.fis_configuration_bucket_arn:
        statements.append(
            {
                "Sid": "FisConfiguration",  # restore waits until FIS has removed the extension's configuration
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": args.fis_configuration_bucket_arn,
                "Condition": {"StringLike": {"s3:prefix": [f"{CONFIGURATION_PREFIX}/*"]}},
            }
        )
    return statements


def investigator_statements(
    args: DrillSupportArgs, account: pulumi.Input[str], standby_role_arn: pulumi.Input[str]
) -> list[dict[str, Any]]:
    """The reads of drill/investigator (its target and collectors) that the catalogue's statements above do
    not already grant: GetBucketPolicy, GetParameter, Lambda's GetFunctionConfiguration, GetFunctionConcurrency,
    GetPolicy, iam:GetRolePolicy and apigateway:GET on the stage are there. Resource types and condition keys:
    the service authorization reference, https://docs.aws.amazon.com/service-authorization/latest/reference/
    (list_amazons3, list_awsidentityandaccessmanagementiam, list_amazoncloudwatch, list_amazoncloudwatchlogs,
    list_amazonapigatewaymanagement, list_awscloudtrail, list_amazonresourcegrouptaggingapi)."""
    region = args.region
    alarms = [API_5XX_ALARM.of(args.prefix), IMAGE_API_ERRORS_ALARM.of(args.prefix), API_LATENCY_ALARM.of(args.prefix)]
    if args.invocations_alarm_name:
        alarms.insert(0, args.invocations_alarm_name)
    log_groups = [function_log_group(api_function_name(args.prefix)), API_ACCESS_LOG_GROUP.of(args.prefix)]
    return [
        {
            # ListObjectsV2: the images, and the keys a Deny may cover. The parameter collector's HeadBucket goes
            # to the bucket a wrong parameter names, any bucket: not granted. Without s3:ListBucket there S3 still
            # answers 403 or 404 (API_HeadBucket.html), and the collector reads 403 as "exists", 404 as "does not".
            "Sid": "InvestigateBucket",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": args.bucket_arn,
        },
        {
            # The role the function runs under: its own, or the standby role once function_role_changed holds.
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
            "Resource": [args.function_role_arn, standby_role_arn],
        },
        {
            # The managed policies attached to that role or bounding it: which ones is what the investigator
            # finds out, so any customer managed policy of this account and any AWS managed one.
            "Sid": "InvestigateManagedPolicies",
            "Effect": "Allow",
            "Action": ["iam:GetPolicy", "iam:GetPolicyVersion"],
            "Resource": [pulumi.Output.concat("arn:aws:iam::", account, ":policy/*"), "arn:aws:iam::aws:policy/*"],
        },
        {
            "Sid": "InvestigateAlarms",  # their states (and the API's name from the 5XX alarm) and histories
            "Effect": "Allow",
            "Action": ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"],
            "Resource": [_arn("cloudwatch", region, account, pulumi.Output.concat("alarm:", a)) for a in alarms],
        },
        {
            # GetMetricData has no resource-level permission: AWS offers nothing narrower.
            "Sid": "InvestigateMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:GetMetricData",
            "Resource": "*",
        },
        {
            "Sid": "InvestigateLogs",  # the image function's error lines and the API's access log
            "Effect": "Allow",
            "Action": "logs:FilterLogEvents",
            "Resource": [_arn("logs", region, account, f"log-group:{group}:*") for group in log_groups],
        },
        {
            "Sid": "InvestigateApi",  # GetRestApi: the API's tags
            "Effect": "Allow",
            "Action": "apigateway:GET",
            "Resource": pulumi.Output.concat("arn:aws:apigateway:", region, "::/restapis/", args.rest_api_id),
        },
        {
            # LookupEvents (who changed what) and tag:GetResources support no resource-level permission:
            # AWS offers nothing narrower.
            "Sid": "InvestigateHistoryAndTags",
            "Effect": "Allow",
            "Action": ["cloudtrail:LookupEvents", "tag:GetResources"],
            "Resource": "*",
        },
    ]


class DrillSupport(pulumi.ComponentResource):
    """The game day's record table, standby role and operator policy."""

    table: aws.dynamodb.Table
    standby_role: aws.iam.Role
    standby_policy: aws.iam.RolePolicy
    operator_policy: aws.iam.Policy

    def __init__(self, name: str, args: DrillSupportArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiops:index:DrillSupport", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        self.table = aws.dynamodb.Table(
            f"{name}-records",
            name=DRILL_RECORD_TABLE.of(args.prefix),
            billing_mode="PAY_PER_REQUEST",  # a handful of writes per game day
            hash_key=RECORD_KEY,
            attributes=[aws.dynamodb.TableAttributeArgs(name=RECORD_KEY, type="S")],
            deletion_protection_enabled=False,  # `pulumi destroy` removes it, records included
            opts=child,
        )
        self.standby_role = aws.iam.Role(
            f"{name}-standby-role",
            assume_role_policy=pulumi.Output.json_dumps(LAMBDA_TRUST),
            description="Game day: the wrong role function_role_changed gives the image function (X-Ray writes only)",
            opts=child,
        )
        # Only what Lambda checks when a function with Active tracing changes role; none of the image
        # function's own permissions, so its requests fail as the scenario intends.
        self.standby_policy = aws.iam.RolePolicy(
            f"{name}-standby-xray",
            role=self.standby_role.id,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [XRAY_WRITE]}),
            opts=child,
        )
        document = {
            "Version": "2012-10-17",
            "Statement": operator_statements(args, account, self.table.arn, self.standby_role.arn),
        }
        self.operator_policy = aws.iam.Policy(
            f"{name}-operator",
            name=DRILL_OPERATOR_POLICY.of(args.prefix),
            description="Game day operator: inject, record and restore the drill's scenarios on this stack",
            policy=pulumi.Output.json_dumps(document),
            opts=child,
        )
        self.register_outputs(
            {
                "operatorPolicyArn": self.operator_policy.arn,
                "recordTableName": self.table.name,
                "standbyRoleArn": self.standby_role.arn,
            }
        )
