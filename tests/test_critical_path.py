"""The deploy's critical path: the longest chain of resources that must be created one after another.

Computed from the dependencies the mocks record for the whole program (explicit `depends_on` and
property dependencies alike, as the engine receives them), over custom resources only: components
create nothing. The orderings correctness needs are pinned one by one as well, so a shorter path
cannot be bought by dropping one of them.
"""

from __future__ import annotations

from functools import cache

from conftest import Recorded, RecordingMocks, depends_on, program_run

# Was 9: bucket → parameter → image role policy → image function → GET integration → deployment →
# stage → execution-log group → method settings.
EXPECTED_DEPTH = 5


def resources(mocks: RecordingMocks) -> dict[str, Recorded]:
    return {r.urn: r for r in mocks.resources if r.custom and not r.typ.startswith("pulumi:providers:")}


def longest_chain(mocks: RecordingMocks) -> list[Recorded]:
    """The longest dependency chain, first-created resource first (ties broken by name, for a stable message)."""
    nodes = resources(mocks)

    @cache
    def chain(urn: str) -> tuple[str, ...]:
        upstream = [chain(dep) for dep in nodes[urn].dependencies if dep in nodes and dep != urn]
        longest = max(upstream, key=lambda c: (len(c), [nodes[u].name for u in c]), default=())
        return (*longest, urn)

    best = max((chain(urn) for urn in nodes), key=lambda c: (len(c), [nodes[u].name for u in c]))
    return [nodes[urn] for urn in best]


def named(mocks: RecordingMocks, typ: str, name: str) -> Recorded:
    return mocks.one(typ, name)


def test_critical_path_is_at_most_five_resources():
    path = longest_chain(program_run().mocks)
    shown = " -> ".join(f"{r.name} ({r.typ.split(':')[-1]})" for r in path)
    assert len(path) <= 5, shown
    assert len(path) == EXPECTED_DEPTH, shown


def test_longest_chain_counts_explicit_and_property_dependencies():
    # a <- b (property) <- c (explicit): both kinds of edge count, as the engine records them alike.
    mocks = RecordingMocks()
    mocks.resources = [
        Recorded("t:a", "a", {}, urn="urn:a"),
        Recorded("t:b", "b", {}, urn="urn:b", dependencies=["urn:a"]),
        Recorded("t:c", "c", {}, urn="urn:c", dependencies=["urn:b", "urn:a"]),
        Recorded("t:d", "d", {}, urn="urn:d", dependencies=["urn:a"]),
        Recorded("aiops:index:X", "x", {}, urn="urn:x", custom=False, dependencies=["urn:c"]),
    ]
    assert [r.name for r in longest_chain(mocks)] == ["a", "b", "c"]


def test_the_orderings_correctness_needs_still_hold():
    mocks = program_run().mocks
    fn = "aws:lambda/function:Function"
    log_group = "aws:cloudwatch/logGroup:LogGroup"
    policy = "aws:iam/rolePolicy:RolePolicy"
    stage = mocks.one("aws:apigateway/stage:Stage")
    method_settings = mocks.one("aws:apigateway/methodSettings:MethodSettings")
    account = mocks.one("aws:apigateway/account:Account")

    # A log group before the function that writes to it...
    for function, group in [
        ("images-image-api-fn", "images-image-api-logs"),
        ("images-image-seeder-fn", "images-image-seeder-logs"),
        ("fault-injector-fn", "fault-injector-logs"),
    ]:
        assert depends_on(named(mocks, fn, function), named(mocks, log_group, group)), function
    # ...and before method settings turn execution logging on; the account role before stage logging.
    assert depends_on(method_settings, named(mocks, log_group, "observability-execution-logs"))
    assert depends_on(method_settings, account)
    assert depends_on(stage, account)
    assert depends_on(stage, named(mocks, log_group, "api-logging-access-logs"))
    # The public access block before the bucket policy.
    assert depends_on(
        mocks.one("aws:s3/bucketPolicy:BucketPolicy"),
        mocks.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"),
    )
    # A role's policy before anything invokes its function: API traffic (the stage), the deploy-time
    # seeding, the alarm's permission.
    assert depends_on(stage, named(mocks, policy, "images-image-api-policy"))
    assert depends_on(mocks.one("aws:lambda/invocation:Invocation"), named(mocks, policy, "images-image-seeder-policy"))
    assert depends_on(
        named(mocks, "aws:lambda/permission:Permission", "fault-alarm-invoke"),
        named(mocks, policy, "fault-injector-policy"),
    )
    # The Lambda permission (hence the function) exists before the stage serves traffic.
    api_permission = named(mocks, "aws:lambda/permission:Permission", "images-api-invoke")
    assert depends_on(stage, api_permission)
    assert depends_on(api_permission, named(mocks, fn, "images-image-api-fn"))
    # What no longer waits: the API for the function, the image function for the parameter,
    # the execution-log group for the stage.
    assert not depends_on(mocks.one("aws:apigateway/restApi:RestApi"), named(mocks, fn, "images-image-api-fn"))
    assert not depends_on(named(mocks, fn, "images-image-api-fn"), mocks.one("aws:ssm/parameter:Parameter"))
    assert not depends_on(named(mocks, log_group, "observability-execution-logs"), stage)
