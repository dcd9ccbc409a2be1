"""CloudWatch investigations: where they exist, and the two policies an investigation group needs.

The group itself is created by Observability (one per account and region); this module holds the data
it is built from, so the component reads as the list of resources it creates.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.iam import service_trust_policy

# Regions with a CloudWatch investigations (AIOps) endpoint, from "Amazon AI Operations endpoints and quotas",
# https://docs.aws.amazon.com/general/latest/gr/aiops_region.html — update here when AWS adds regions.
INVESTIGATION_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "eu-south-2",
    "eu-north-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-east-1",
    "ap-southeast-5",
    "ap-southeast-7",
)
LOCAL_INVESTIGATOR = "python -m drill investigate"

AIOPS_ASSISTANT_POLICY = "arn:aws:iam::aws:policy/AIOpsAssistantPolicy"


def investigation_trust_policy(account: pulumi.Input[str], region: str) -> dict[str, Any]:
    """Only CloudWatch investigations acting for this account and region, in the form AWS documents
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Investigations-GetStarted-Group.html)."""
    return service_trust_policy(
        "aiops.amazonaws.com",
        condition={
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": pulumi.Output.concat("arn:aws:aiops:", region, ":", account, ":*")},
        },
    )


def investigation_group_policy(account: pulumi.Input[str], region: str) -> dict[str, Any]:
    """Lets this account's CloudWatch alarms (and nothing else) open investigations and add events to them.

    "Resource": "*" is what AWS documents for this resource policy: it is attached to one group, and the
    group's ARN does not exist until the group (which carries the policy) has been created.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AlarmsStartInvestigations",
                "Effect": "Allow",
                "Principal": {"Service": "aiops.alarms.cloudwatch.amazonaws.com"},
                "Action": ["aiops:CreateInvestigation", "aiops:CreateInvestigationEvent"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {
                        "aws:SourceArn": pulumi.Output.concat("arn:aws:cloudwatch:", region, ":", account, ":alarm:*")
                    },
                },
            }
        ],
    }
