"""Provisioners for S3, SSM, IAM and DynamoDB resources."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from drill.rehearsal.aws_context import Aws, Provisioner, Skip, autoname, tag_list, tags_all


def bucket(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = autoname(name, inputs, "bucket", lower=True)
    location = {} if aws.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": aws.region}}
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=physical, **location)
    tags = tags_all(inputs)
    if tags:
        s3.put_bucket_tagging(Bucket=physical, Tagging={"TagSet": tag_list(tags)})
    return physical, {
        "tagsAll": tags,
        "bucket": physical,
        "arn": f"arn:aws:s3:::{physical}",
        "bucketDomainName": f"{physical}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{physical}.s3.{aws.region}.amazonaws.com",
        "region": aws.region,
    }


def public_access_block(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    configuration = {key[0].upper() + key[1:]: bool(inputs.get(key)) for key in keys}
    aws.client("s3").put_public_access_block(Bucket=inputs["bucket"], PublicAccessBlockConfiguration=configuration)
    return inputs["bucket"], {}


def ownership_controls(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rule = {"ObjectOwnership": inputs["rule"]["objectOwnership"]}
    aws.client("s3").put_bucket_ownership_controls(Bucket=inputs["bucket"], OwnershipControls={"Rules": [rule]})
    return inputs["bucket"], {}


def encryption(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rules = [
        {
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": r["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
            }
        }
        for r in inputs["rules"]
    ]
    aws.client("s3").put_bucket_encryption(Bucket=inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules})
    return inputs["bucket"], {}


def bucket_policy(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The declared policy without its conditioned statements: moto does not evaluate conditions."""
    policy = json.loads(inputs["policy"])
    declared = policy.get("Statement", [])
    declared = [declared] if isinstance(declared, dict) else declared
    kept = [s for s in declared if "Condition" not in s]
    for statement in declared:
        if "Condition" in statement:
            aws.caveat(
                f"bucket policy statement {statement.get('Sid', '(no Sid)')} (Condition "
                f"{json.dumps(statement['Condition'])}) is kept out of moto: moto does not evaluate conditions, "
                "so it would deny every request; the real stack deploys it"
            )
    if kept:
        aws.client("s3").put_bucket_policy(Bucket=inputs["bucket"], Policy=json.dumps({**policy, "Statement": kept}))
    return inputs["bucket"], {}


def parameter(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = autoname(name, inputs)
    value = inputs.get("insecureValue") if inputs.get("insecureValue") is not None else inputs.get("value")
    ssm = aws.client("ssm")
    ssm.put_parameter(
        Name=physical,
        Value=str(value),
        Type=inputs.get("type", "String"),
        Description=inputs.get("description", ""),
        Overwrite=True,
    )
    tags = tags_all(inputs)
    if tags:  # PutParameter takes no tags together with Overwrite
        ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=physical, Tags=tag_list(tags))
    return physical, {"tagsAll": tags, "name": physical, "arn": aws.arn("ssm", f"parameter{physical}"), "version": 1}


def role(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = autoname(name, inputs)
    created = aws.client("iam").create_role(
        RoleName=physical,
        AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
        Description=inputs.get("description", ""),
        Tags=tag_list(tags_all(inputs)),
    )["Role"]
    return physical, {
        "tagsAll": tags_all(inputs),
        "name": physical,
        "arn": created["Arn"],
        "uniqueId": created["RoleId"],
    }


def role_policy(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = autoname(name, inputs)
    aws.client("iam").put_role_policy(RoleName=inputs["role"], PolicyName=physical, PolicyDocument=inputs["policy"])
    return f"{inputs['role']}:{physical}", {"name": physical}


def role_policy_attachment(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    try:
        aws.client("iam").attach_role_policy(RoleName=inputs["role"], PolicyArn=inputs["policyArn"])
    except ClientError as err:
        if err.response["Error"]["Code"] != "NoSuchEntity":
            raise
        raise Skip(f"moto does not know the AWS managed policy {inputs['policyArn']}") from None
    return f"{inputs['role']}-{name}", {}


def managed_policy(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A customer-managed policy (the drill operator's): offline its ARN is real, so a game day's
    "no policy left over" check counts it among the account's policies."""
    physical = autoname(name, inputs)
    created = aws.client("iam").create_policy(
        PolicyName=physical,
        Path=inputs.get("path") or "/",
        PolicyDocument=inputs["policy"],
        Description=inputs.get("description", ""),
        Tags=tag_list(tags_all(inputs)),
    )["Policy"]
    return created["Arn"], {
        "tagsAll": tags_all(inputs),
        "name": physical,
        "arn": created["Arn"],
        "policyId": created["PolicyId"],
        "attachmentCount": 0,
    }


def table(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A DynamoDB table with its declared keys and billing (the drill's record store)."""
    physical = autoname(name, inputs)
    keys = [{"AttributeName": inputs["hashKey"], "KeyType": "HASH"}]
    if inputs.get("rangeKey"):
        keys.append({"AttributeName": inputs["rangeKey"], "KeyType": "RANGE"})
    billing = inputs.get("billingMode", "PROVISIONED")
    capacity = {
        "ReadCapacityUnits": int(inputs.get("readCapacity", 1)),
        "WriteCapacityUnits": int(inputs.get("writeCapacity", 1)),
    }
    tags = tags_all(inputs)
    created = aws.client("dynamodb").create_table(
        TableName=physical,
        AttributeDefinitions=[{"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]],
        KeySchema=keys,
        BillingMode=billing,
        **({} if billing == "PAY_PER_REQUEST" else {"ProvisionedThroughput": capacity}),
        **({"Tags": tag_list(tags)} if tags else {}),
    )
    return physical, {"name": physical, "arn": created["TableDescription"]["TableArn"], "tagsAll": tags}


PROVISIONERS: dict[str, Provisioner] = {
    "aws:s3/bucket:Bucket": bucket,
    "aws:s3/bucketV2:BucketV2": bucket,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": public_access_block,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ownership_controls,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": encryption,
    "aws:s3/bucketPolicy:BucketPolicy": bucket_policy,
    "aws:ssm/parameter:Parameter": parameter,
    "aws:dynamodb/table:Table": table,
    "aws:iam/role:Role": role,
    "aws:iam/rolePolicy:RolePolicy": role_policy,
    "aws:iam/policy:Policy": managed_policy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": role_policy_attachment,
}
