"""The fault's statements exist twice: in the packaged fault_injector and in the drill (drill/fault_policy.py).

The function is packaged alone, so the drill cannot import it. These tests prove the copies are one rule:
for many generated buckets and role ARNs (every partition, IAM paths, edge lengths) both build the same two
statements, and the drill's `is_fault` agrees with the function's own `is_ours` on every look-alike.
"""

from __future__ import annotations

import copy
import inspect
import random
import string
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
from conftest import ROOT, load_function_module

from drill import fault_policy as drill_rule

PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
SEED = 20261201
CASES = 150


def function_rule() -> ModuleType:
    """functions/fault_injector/fault_policy.py as its own module (it imports nothing from its folder)."""
    path = ROOT / "functions" / "fault_injector" / "fault_policy.py"
    return load_function_module("fn_fault_injector_fault_policy_copy", path)


FN = function_rule()


# ---------------------------------------------------------------------------------------------- generators
def bucket_name(rng: random.Random) -> str:
    """A valid S3 bucket name: 3-63 of [a-z0-9.-], starting and ending with a letter or digit."""
    length = rng.choice([3, 4, 63, 62, rng.randint(5, 61)])
    ends = string.ascii_lowercase + string.digits
    middle = "".join(rng.choice(ends + "-.") for _ in range(length - 2)).replace("..", ".a")[: length - 2]
    return rng.choice(ends) + middle.ljust(length - 2, "a") + rng.choice(ends)


def role_arn(rng: random.Random) -> str:
    """arn:<partition>:iam::<account>:role<path><name>: paths of any depth, names of 1 to 64 characters."""
    name_chars = string.ascii_letters + string.digits + "+=,.@_-"
    name = "".join(rng.choice(name_chars) for _ in range(rng.choice([1, 64, rng.randint(2, 63)])))
    segments = ["".join(rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(1, 20)))]
    path = rng.choice(["/", "/", f"/{segments[0]}/", f"/service-role/{segments[0]}/a/b/"])
    account = "".join(rng.choice(string.digits) for _ in range(12))
    return f"arn:{rng.choice(PARTITIONS)}:iam::{account}:role{path}{name}"


def cases() -> Iterator[tuple[str, str]]:
    rng = random.Random(SEED)
    yield "abc", "arn:aws:iam::000000000000:role/r"  # the shortest of each
    for _ in range(CASES):
        yield bucket_name(rng), role_arn(rng)


# ---------------------------------------------------------------------------------------------- look-alikes
Change = Callable[[dict, str, str], object]


def _with(**fields: object) -> Change:
    return lambda s, bucket, role: {**s, **fields}


def _one_char_off(value: str) -> str:
    return value[:-1] + ("x" if value[-1] != "x" else "y")


# The fault in another form: the policy grammar reads each of these as the same statement.
EQUIVALENT: dict[str, Change] = {
    "as built": lambda s, bucket, role: s,
    "keys reversed": lambda s, bucket, role: dict(reversed(list(s.items()))),
    "Action as a list": lambda s, bucket, role: {**s, "Action": [s["Action"]]},
    "Action listed twice": lambda s, bucket, role: {**s, "Action": [s["Action"], s["Action"]]},
    "Resource as a list": lambda s, bucket, role: {**s, "Resource": [s["Resource"]]},
    "Principal AWS as a list": lambda s, bucket, role: {**s, "Principal": {"AWS": [role]}},
}
# Same Sid, other content: someone else's statement, never the fault.
LOOK_ALIKES: dict[str, Change] = {
    "other Sid": lambda s, bucket, role: {**s, "Sid": s["Sid"] + "2"},
    "no Sid": lambda s, bucket, role: {k: v for k, v in s.items() if k != "Sid"},
    "Allow": _with(Effect="Allow"),
    "Principal as a string": _with(Principal="*"),
    "Principal AWS *": _with(Principal={"AWS": "*"}),
    "Principal a bare ARN string": lambda s, bucket, role: {**s, "Principal": role},
    "another role too": lambda s, bucket, role: {**s, "Principal": {"AWS": [role, _one_char_off(role)]}},
    "another role, reordered": lambda s, bucket, role: {**s, "Principal": {"AWS": [_one_char_off(role), role]}},
    "a role one character off": lambda s, bucket, role: {**s, "Principal": {"AWS": _one_char_off(role)}},
    "Service principal": _with(Principal={"Service": "lambda.amazonaws.com"}),
    "both actions": _with(Action=["s3:ListBucket", "s3:GetObject"]),
    "both actions, reordered": _with(Action=["s3:GetObject", "s3:ListBucket"]),
    "Action as a wildcard": _with(Action="s3:*"),
    "NotAction": lambda s, bucket, role: {**{k: v for k, v in s.items() if k != "Action"}, "NotAction": s["Action"]},
    "other bucket": lambda s, bucket, role: {**s, "Resource": s["Resource"].replace(bucket, _one_char_off(bucket))},
    "other partition": lambda s, bucket, role: {
        **s,
        "Resource": s["Resource"].replace(f"arn:{FN.partition_of(role)}:", "arn:aws-iso:"),
    },
    "Resource widened": _with(Resource="*"),
    "Resource and its objects": lambda s, bucket, role: {
        **s,
        "Resource": [f"arn:{FN.partition_of(role)}:s3:::{bucket}", f"arn:{FN.partition_of(role)}:s3:::{bucket}/*"],
    },
    "a Condition": _with(Condition={"Bool": {"aws:SecureTransport": "false"}}),
    "an extra key": _with(Extra="1"),
}
NOT_STATEMENTS: list[object] = [None, "AiopsFaultInjectionDenyGetObject", [], {}, 3]


def variants(bucket: str, role: str) -> Iterator[tuple[str, object, bool]]:
    """(label, candidate, whether it is the fault) for every form of both statements and every look-alike."""
    for statement in FN.fault_statements(bucket, role):
        for label, change in EQUIVALENT.items():
            yield f"{statement['Sid']} {label}", change(copy.deepcopy(statement), bucket, role), True
        for label, change in LOOK_ALIKES.items():
            yield f"{statement['Sid']} {label}", change(copy.deepcopy(statement), bucket, role), False
    # The two statements' actions swapped: each is then the other's look-alike.
    list_bucket, get_object = FN.fault_statements(bucket, role)
    yield "ListBucket on objects", {**list_bucket, "Resource": get_object["Resource"]}, False
    yield "GetObject under the ListBucket Sid", {**get_object, "Sid": list_bucket["Sid"]}, False
    for other in NOT_STATEMENTS:
        yield f"not a statement {other!r}", other, False


# ---------------------------------------------------------------------------------------------- tests
def test_the_generators_cover_every_partition_and_the_edge_lengths():
    generated = list(cases())
    names = [role.rsplit("/", 1)[1] for _, role in generated]
    assert {role.split(":")[1] for _, role in generated} == set(PARTITIONS)
    assert {len(b) for b, _ in generated} >= {3, 63} and {1, 64} <= {len(n) for n in names}
    assert any(role.count("/") > 2 for _, role in generated)  # a role with a path


@pytest.mark.parametrize("bucket, role", list(cases())[:1] + [("my.bucket-1", "arn:aws-cn:iam::1:role/a/b/r")])
def test_both_copies_build_identical_statements_in_the_roles_partition(bucket, role):
    partition = role.split(":")[1]
    statements = drill_rule.fault_statements(bucket, role)

    assert statements == FN.fault_statements(bucket, role)
    assert [s["Resource"] for s in statements] == [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"]
    assert [s["Sid"] for s in statements] == [FN.DENY_LIST_SID, FN.DENY_GET_SID]
    assert (drill_rule.SID_PREFIX, drill_rule.DENY_LIST_SID, drill_rule.DENY_GET_SID) == (
        FN.SID_PREFIX,
        FN.DENY_LIST_SID,
        FN.DENY_GET_SID,
    )


def test_for_every_bucket_and_role_both_copies_build_the_same_statements():
    for bucket, role in cases():
        assert drill_rule.fault_statements(bucket, role) == FN.fault_statements(bucket, role), (bucket, role)


def test_for_every_bucket_and_role_the_drill_judges_each_look_alike_as_the_function_does():
    judged = 0
    for bucket, role in cases():
        ours = FN.fault_statements(bucket, role)
        for label, candidate, expected in variants(bucket, role):
            by_function = FN.is_ours(candidate, ours)
            by_drill = drill_rule.is_fault(candidate, bucket, role)
            assert (by_drill, by_function) == (expected, expected), (label, bucket, role, candidate)
            judged += 1
    assert judged > CASES * 50


def test_without_a_role_nothing_is_the_fault():
    statement = FN.fault_statements("bucket", "arn:aws:iam::1:role/r")[0]
    assert not drill_rule.is_fault(statement, "bucket", None)
    assert not drill_rule.is_fault(statement, "bucket", "")


@pytest.mark.parametrize("name", ["partition_of", "fault_statements", "normalised"])
def test_the_shared_helpers_are_the_functions_verbatim(name):
    """The drill's copy is the function's text: a fix made in one copy only fails here first."""
    assert inspect.getsource(getattr(drill_rule, name)) == inspect.getsource(getattr(FN, name))
