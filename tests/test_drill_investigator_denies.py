"""Bucket-policy Denies that are not the fault injector's: uncertain ones never become certain causes,
and the fix for a foreign one puts the policy back without it (never deletes the whole policy).

The bucket policy collector runs against moto (mock_aws); the ranking reads what it found.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import replace

import boto3
import pytest
from conftest import REGION, tls_only_statement
from test_drill_collectors import BUCKET, NOW, ROLE_ARN, TARGET, item

from drill.aws import Clients
from drill.fault_policy import fault_statements
from drill.investigator.collectors import bucket_policy
from drill.investigator.collectors._base import Scope
from drill.investigator.model import Window
from drill.investigator.ranking import conclude
from drill.investigator.remediation import remediation

# A Deny on a key the investigator cannot decide (the network a Lambda's calls come from): uncertain.
UNCERTAIN = {
    "Sid": "OnlyFromOffice",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:GetObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/*",
    "Condition": {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
}
FOREIGN = {
    "Sid": "NoReadsForTheImageRole",
    "Effect": "Deny",
    "Principal": {"AWS": ROLE_ARN},
    "Action": "s3:GetObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/*",
}
AUDITOR = {
    "Sid": "AuditorReads",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:role/auditor"},
    "Action": "s3:GetObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/*",
}
ALARM = item("alarms", 1, alarm="a", purpose="api_5xx", state="ALARM", resource="api/prod")
DENIED_LINES = item("logs", 1, error_code="AccessDenied", operation="GetObject", bucket=BUCKET, count=4)


def collect(*policy: dict) -> list:
    """The bucket policy collector's evidence for a bucket (two images) holding `policy`."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    for key in ("image-0.png", "image-1.png"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"png")
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": list(policy)}))
    target = replace(TARGET, declared_role_arn=ROLE_ARN)
    return bucket_policy.collect(
        Scope(clients=Clients(boto3.DEFAULT_SESSION), target=target, window=Window.last(30, NOW))
    )


def put_back(command: str) -> list[dict]:
    """The statements of the policy a `put-bucket-policy` command puts back."""
    words = shlex.split(command)
    assert words[:3] == ["aws", "s3api", "put-bucket-policy"], command
    return json.loads(words[words.index("--policy") + 1])["Statement"]


# ------------------------------------------------------------------------------------------ uncertain Denies
def test_an_uncertain_deny_alone_with_symptoms_is_unknown_and_stays_a_weak_hypothesis(aws_mock):
    tls = tls_only_statement(BUCKET)
    found = collect(tls, UNCERTAIN)
    (deny,) = [e for e in found if e.facts.get("deny")]
    assert deny.facts["certain"] is False and "may deny" in deny.detail and "aws:SourceIp" in deny.detail
    root, hypotheses = conclude([*found, ALARM])
    assert root.kind == "unknown"
    weak = next(h for h in hypotheses if h.kind == "bucket_policy_deny")
    assert weak.confidence == 0.35  # 0.3 for an uncertain Deny + 0.05 symptoms: below 0.5, so no root
    assert "may deny" in weak.summary
    assert conclude(found) == (None, [weak_without_symptoms(found)])  # no symptoms: healthy


def weak_without_symptoms(found: list):
    (hypothesis,) = [h for h in conclude(found)[1]]
    assert hypothesis.kind == "bucket_policy_deny" and hypothesis.confidence == 0.3
    return hypothesis


def test_an_uncertain_deny_next_to_a_certain_one_is_neither_certain_nor_removed(aws_mock):
    tls = tls_only_statement(BUCKET)
    found = collect(tls, UNCERTAIN, FOREIGN)
    denies = {e.facts["sid"]: e.facts["certain"] for e in found if e.facts.get("deny")}
    assert denies == {"OnlyFromOffice": False, "NoReadsForTheImageRole": True}
    root, _ = conclude([*found, ALARM])
    assert root.kind == "bucket_policy_deny" and root.confidence == 0.65  # the certain one: 0.6 + 0.05
    # The fix removes the certain Deny only; the uncertain one is someone's rule the investigator could
    # not decide, so it stays, and so does the TLS-only statement.
    (command,) = remediation(root, found, TARGET)
    assert put_back(command) == [tls, UNCERTAIN]


def test_an_uncertain_deny_corroborated_by_error_lines_is_named_as_possible_only(aws_mock):
    found = collect(tls_only_statement(BUCKET), UNCERTAIN)
    root, _ = conclude([*found, DENIED_LINES, ALARM])
    # The function's own AccessDenied lines make it the best explanation, but never a certain one.
    assert root.kind == "bucket_policy_deny" and root.confidence == 0.55  # 0.3 + 0.2 lines + 0.05
    assert "may deny" in root.summary
    note, command = remediation(root, found, TARGET)
    assert note.startswith("# only if the condition of OnlyFromOffice applies")
    assert put_back(command) == [tls_only_statement(BUCKET)]


# ------------------------------------------------------------------------------------------ foreign Denies
@pytest.mark.parametrize("others", [[], [AUDITOR], [AUDITOR, "tls"]], ids=["alone", "with-allow", "with-allow-and-tls"])
def test_a_foreign_deny_is_removed_from_the_policy_and_everything_else_is_put_back(aws_mock, others):
    kept = [tls_only_statement(BUCKET) if s == "tls" else s for s in others]
    found = collect(*kept[:1], FOREIGN, *kept[1:])
    (deny,) = [e for e in found if e.facts.get("deny")]
    assert deny.facts["injected"] is False and deny.facts["certain"] is True
    root, _ = conclude([*found, ALARM])
    assert root.kind == "bucket_policy_deny"
    commands = remediation(root, found, TARGET)
    assert "python -m drill restore" not in commands  # restore removes the injector's statements only
    if not kept:  # nothing else in the policy: putting it back empty is deleting it
        assert commands == [f"aws s3api delete-bucket-policy --bucket {BUCKET}"]
        return
    (command,) = commands
    assert put_back(command) == kept  # every other statement, unchanged and in order


def test_a_foreign_deny_next_to_the_injected_ones_is_removed_with_them_by_put_bucket_policy(aws_mock):
    injected = fault_statements(BUCKET, ROLE_ARN)
    found = collect(AUDITOR, *injected, FOREIGN)
    assert [e.facts["injected"] for e in found if e.facts.get("deny")] == [True, True, False]
    root, _ = conclude([*found, ALARM])
    (command,) = remediation(root, found, TARGET)  # `drill restore` would leave the foreign Deny
    assert put_back(command) == [AUDITOR]
