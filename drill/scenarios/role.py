"""The image role's game-day inline policy (a Deny on the bucket) as a scenario state: its document or None."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from drill import stack
from drill.aws import error_code
from drill.scenarios.model import State
from drill.steps.fault import image_role_arn
from drill.steps.model import Drill

POLICY_NAME = "AiopsGamedayDenyImages"


def role_name(drill: Drill) -> str:
    return image_role_arn(drill).rsplit("/", 1)[-1]


def read_inline_policy(drill: Drill) -> State:
    try:
        answer = drill.clients.iam.get_role_policy(RoleName=role_name(drill), PolicyName=POLICY_NAME)
    except ClientError as err:
        if error_code(err) == "NoSuchEntity":
            return None
        raise
    return answer["PolicyDocument"]  # boto3 decodes the URL-encoded JSON


def write_inline_policy(drill: Drill, _current: State, wanted: State) -> None:
    if wanted is None:
        drill.clients.iam.delete_role_policy(RoleName=role_name(drill), PolicyName=POLICY_NAME)
    else:
        drill.clients.iam.put_role_policy(
            RoleName=role_name(drill), PolicyName=POLICY_NAME, PolicyDocument=json.dumps(wanted)
        )


def deny_images(drill: Drill, _prior: State) -> State:
    bucket = drill.outputs.require(stack.BUCKET)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GamedayDenyImages",
                "Effect": "Deny",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }
