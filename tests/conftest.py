"""Shared test fixtures: Pulumi mocks that record what the program asks for, moto, handler loading.

Tests never reach AWS: credentials are fake and the region fixed before anything imports boto3.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import gc
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import rehearsal_run
import stack_plan
from handler_harness import (  # noqa: F401  (load_handler, load_function_module: the tests import them from here)
    load_function_module,
    load_handler,
    use_fake_aws,
)

# Bytecode is written while the tests are collected, so that pytest keeps each test module's rewritten asserts
# (tests/__pycache__) and the next run does not rewrite them all again in each worker (~2 CPU-s a worker). Once
# collected, never (`pytest_collection_finish`): the tests import handlers from functions/<name>/, and bytecode
# there would be packaged into the Lambda zip.
sys.dont_write_bytecode = False

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Fixtures of the image_seeder tests (env, s3, seeder, bedrock, fake_clock); a plugin so assertions in it are rewritten.
pytest_plugins = ["seeder_fixtures"]

ACCOUNT = "123456789012"
REGION = "us-west-2"
PROJECT = "aiops-demo"
STACK = "dev"
# What the public SSM parameter of the FIS Lambda extension (arm64) answers in REGION (AWS's account, not ours).
FIS_LAYER_ARN = f"arn:aws:lambda:{REGION}:211125317491:layer:aws-fis-extension-arm64:9"

use_fake_aws(REGION)

import pulumi  # noqa: E402  (after the environment is made safe)
from pulumi.runtime.mocks import MockMonitor  # noqa: E402
from pulumi.runtime.stack import wait_for_rpcs  # noqa: E402


# --------------------------------------------------------------------------------------------- Pulumi
@dataclass
class Recorded:
    """One resource registration as the engine would have seen it."""

    typ: str
    name: str
    inputs: dict[str, Any]
    urn: str = ""
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    custom: bool = True
    provider: str = ""  # the provider reference sent ("<provider urn>::<id>"); empty means the default provider


def _arn(service: str, resource: str, *, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers with realistic ids and ARNs and remembers every resource the program creates."""

    def __init__(self) -> None:
        self.resources: list[Recorded] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.call_providers: list[tuple[str, str]] = []  # (token, provider reference) of every invoke
        # Outputs of other stacks, by fully-qualified name, as a `pulumi.StackReference` to them reads them.
        self.other_stacks: dict[str, dict[str, Any]] = {}

    # -- queries used by tests
    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name: str | None = None) -> Recorded:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def named(self, name: str) -> Recorded:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
        return found[0]

    # -- the Mocks interface
    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        name = args.name
        physical = outputs.get("name") or f"{name}-a1b2c3"
        outputs.setdefault("name", physical)
        typ = args.typ
        resource_id = f"{name}-id"
        if typ == "aws:s3/bucket:Bucket":
            bucket = outputs.get("bucket") or f"{name}-a1b2c3"
            outputs.update(
                bucket=bucket, arn=f"arn:aws:s3:::{bucket}", bucketRegionalDomainName=f"{bucket}.s3.amazonaws.com"
            )
            resource_id = bucket
        elif typ == "aws:iam/role:Role":
            outputs.update(arn=f"arn:aws:iam::{ACCOUNT}:role/{physical}", uniqueId="AROAEXAMPLE")
            resource_id = physical
        elif typ == "aws:iam/policy:Policy":
            outputs["arn"] = f"arn:aws:iam::{ACCOUNT}:policy/{physical}"
        elif typ == "aws:lambda/function:Function":
            arn = _arn("lambda", f"function:{physical}")
            outputs.update(
                arn=arn,
                qualifiedArn=f"{arn}:$LATEST",
                invokeArn=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations",
                version="$LATEST",
            )
            resource_id = physical
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            outputs["arn"] = _arn("logs", f"log-group:{physical}")
            resource_id = physical
        elif typ == "aws:ssm/parameter:Parameter":
            outputs["arn"] = _arn("ssm", f"parameter{physical}")
            resource_id = physical
        elif typ == "aws:apigateway/restApi:RestApi":
            resource_id = "a1b2c3d4e5"
            outputs.update(
                rootResourceId="rootres123",
                executionArn=_arn("execute-api", resource_id),
                arn=f"arn:aws:apigateway:{REGION}::/restapis/{resource_id}",
            )
        elif typ == "aws:apigateway/stage:Stage":
            api = outputs.get("restApi")
            stage = outputs.get("stageName")
            outputs.update(
                invokeUrl=f"https://{api}.execute-api.{REGION}.amazonaws.com/{stage}",
                executionArn=_arn("execute-api", f"{api}/{stage}"),
                arn=f"arn:aws:apigateway:{REGION}::/restapis/{api}/stages/{stage}",
            )
        elif typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            alarm = outputs.get("name")
            outputs["arn"] = _arn("cloudwatch", f"alarm:{alarm}")
            resource_id = alarm
        elif typ == "aws:cloudwatch/dashboard:Dashboard":
            outputs["dashboardArn"] = f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{outputs.get('dashboardName')}"
        elif typ == "pulumi:pulumi:StackReference":
            resource_id = outputs["name"]
            outputs.update(outputs=dict(self.other_stacks.get(resource_id, {})), secretOutputNames=[])
        elif typ.startswith("aws-native:"):
            outputs.setdefault("arn", _arn(typ.split(":")[1], f"{name}/{name}-id"))
        else:
            service = typ.split(":")[1].split("/")[0]
            outputs.setdefault("arn", _arn(service, f"{name}"))
        self.resources.append(
            Recorded(typ=typ, name=name, inputs=dict(args.inputs), custom=bool(args.custom), provider=args.provider)
        )
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.calls.append((args.token, dict(args.args)))
        self.call_providers.append((args.token, args.provider))
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/test", "userId": "AIDAEXAMPLE"}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": REGION, "region": REGION, "id": REGION, "description": "US West (Oregon)"}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if args.token == "aws:ssm/getParameter:getParameter":  # a public parameter: the FIS extension's layer
            name = args.args["name"]
            return {"name": name, "type": "String", "value": FIS_LAYER_ARN, "insecureValue": FIS_LAYER_ARN, "id": name}
        raise NotImplementedError(f"no mock for {args.token}")


class RecordingMonitor(MockMonitor):
    """Adds what `new_resource` cannot see to each record: parent, dependencies, retain-on-delete,
    delete-before-replace."""

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        mocks: RecordingMocks = self.mocks
        if request.type == "pulumi:pulumi:Stack":
            return response
        # Registrations may run on several threads: find this one's record by type and name.
        record = next(r for r in reversed(mocks.resources) if r.typ == request.type and r.name == request.name)
        record.urn = response.urn
        record.parent = request.parent
        record.dependencies = list(request.dependencies)
        record.retain_on_delete = bool(request.retainOnDelete)
        record.delete_before_replace = bool(request.deleteBeforeReplace)
        return response


def set_config(values: dict[str, Any] | None = None, *, region: str | None = REGION) -> None:
    """Replace the stack configuration seen by `pulumi.Config` (project keys unqualified)."""
    config = {
        f"{PROJECT}:{k}" if ":" not in k else k: str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in (values or {}).items()
    }
    if region is not None:
        config.setdefault("aws:region", region)
    pulumi.runtime.set_all_config(config)


@pytest.fixture
def mocks(monkeypatch) -> RecordingMocks:
    """Fresh recording mocks, default config, project root as working directory (as `pulumi up` has)."""
    monkeypatch.chdir(ROOT)
    skip_source_positions(monkeypatch)
    recording = RecordingMocks()
    pulumi.runtime.set_mocks(
        recording, project=PROJECT, stack=STACK, preview=False, monitor=RecordingMonitor(recording)
    )
    set_config()
    with no_cyclic_gc():
        yield recording
    set_config()


@contextlib.contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """The cyclic garbage collector held off while a program runs under the mocks. A run makes tens of thousands
    of short-lived futures, tasks and outputs; collecting them as they come sweeps the heap again and again
    (pulumi_aws's classes make it large): about a fifth of a Pulumi test's CPU. They are collected after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def skip_source_positions(patch: pytest.MonkeyPatch) -> None:
    """Register resources without the stack trace the SDK sends the engine with each one (where the resource was
    declared, for the CLI's messages), which the mock monitor ignores. The SDK walks the whole Python stack for
    it, some 50 frames under pytest: about a quarter of the CPU of a component test."""
    from pulumi.runtime import resource
    from pulumi.runtime.proto import source_pb2

    patch.setattr(resource, "_get_stack_trace", source_pb2.StackTrace)  # an empty trace: no source position


def settled(*outputs: pulumi.Input[Any]) -> pulumi.Output[list[Any]]:
    """The values of `outputs`, once every resource registration so far has reached the mocks.

    Return `settled(...).apply(check)` from a `@pulumi.runtime.test`: `check` then sees every
    resource the program created, not only those behind the outputs it awaits.
    """

    async def all_registered() -> None:
        await wait_for_rpcs(await_all_outstanding_tasks=False)

    barrier = pulumi.Output.from_input(asyncio.ensure_future(all_registered()))
    return pulumi.Output.all(barrier, *outputs).apply(lambda values: list(values[1:]))


def image_service(**overrides: Any):
    """An ImageService from the default settings (settings_helper); keyword arguments override ImageServiceArgs
    fields."""
    import dataclasses

    from settings_helper import default_settings

    from components.image_service import ImageService, ImageServiceArgs

    return ImageService("images", dataclasses.replace(ImageServiceArgs.from_settings(default_settings()), **overrides))


def run_program() -> dict[str, pulumi.Output[Any]]:
    """Run __main__.py as `pulumi up` would (under the current mocks) and return its stack outputs."""
    import runpy

    stack = pulumi.runtime.get_root_resource()
    stack.outputs.clear()
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    return dict(stack.outputs)


@dataclass(frozen=True)
class ProgramRun:
    """One settled run of __main__.py under recording mocks: every registration and invoke the mocks received,
    the stack's outputs as resolved values, and the messages the program passed to pulumi.log.warn."""

    mocks: RecordingMocks
    outputs: dict[str, Any]
    warnings: list[str]


_PROGRAM_RUNS: dict[str, ProgramRun] = {}


def program_run(
    config: dict[str, Any] | None = None,
    *,
    region: str = REGION,
    stack: str = STACK,
    other_stacks: dict[str, dict[str, Any]] | None = None,
) -> ProgramRun:
    """__main__.py run as `pulumi up` runs it, under fresh recording mocks, with `config` (as `set_config` takes
    it) in `stack` and `region`; `other_stacks` holds the outputs a `pulumi.StackReference` reads, by stack.

    A run costs a few tenths of a CPU second and many tests only read what one run recorded: each distinct set of
    arguments runs once per process, and every call returns a deep copy of that record, so no test sees what
    another changed in it. The run has settled when this returns. It runs in a context of its own: Pulumi keeps
    its settings, config and root stack in context variables, so the caller's mocks and config are left as they
    were, and nothing of the caller's reaches the run. A run that fails raises, and is not kept."""
    key = json.dumps([config or {}, region, stack, other_stacks or {}], sort_keys=True)
    if key not in _PROGRAM_RUNS:
        _PROGRAM_RUNS[key] = contextvars.copy_context().run(_run_program, config, region, stack, other_stacks or {})
    return copy.deepcopy(_PROGRAM_RUNS[key])


def _run_program(
    config: dict[str, Any] | None, region: str, stack: str, other_stacks: dict[str, dict[str, Any]]
) -> ProgramRun:
    recording = RecordingMocks()
    recording.other_stacks.update(copy.deepcopy(other_stacks))
    run = ProgramRun(mocks=recording, outputs={}, warnings=[])
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        skip_source_positions(patch)
        patch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: run.warnings.append(message))
        pulumi.runtime.settings.ROOT.set(None)  # a root stack of the run's own: set_mocks registers one
        pulumi.runtime.set_mocks(
            recording, project=PROJECT, stack=stack, preview=False, monitor=RecordingMonitor(recording)
        )
        set_config(config, region=region)

        @pulumi.runtime.test
        def program() -> pulumi.Output[Any]:
            outputs = run_program()
            names = sorted(outputs)
            return settled(*[outputs[n] for n in names]).apply(
                lambda values: run.outputs.update(zip(names, values, strict=True))
            )

        with no_cyclic_gc():
            program()
    return run


def depends_on(dependent: Recorded, dependency: Recorded) -> bool:
    """True if `dependent` waits for `dependency`, directly or through a property input."""
    return dependency.urn in dependent.dependencies


def own_logs_and_xray(log_group_arn: str) -> list[dict[str, Any]]:
    """The statements every PythonFunction role gets after its caller's: writes to its own log group, X-Ray."""
    return [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
        },
        {
            "Sid": "XRayWrite",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        },
    ]


# --------------------------------------------------------------------------------------------- functions
FAULT_ALARM = f"{PROJECT}-{STACK}-lambda-trigger-alarm"


def tls_only_statement(bucket: str) -> dict[str, Any]:
    """The bucket-policy statement ImageService deploys (deny any request not made over TLS)."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def alarm_event(
    state: str = "ALARM",
    alarm_name: str = FAULT_ALARM,
    *,
    timestamp: datetime | str | None = None,
    alarm_arn: str | None = None,
) -> dict[str, Any]:
    """The event a CloudWatch alarm action delivers to a Lambda function (configuration trimmed).

    The state changed `timestamp` (a datetime, or a raw string for malformed cases), by default now: the
    fault function ignores events older than 300 s. `alarm_arn` defaults to the ARN of `alarm_name` here.
    """
    when = timestamp if isinstance(timestamp, str) else (timestamp or datetime.now(UTC))
    stamp = when if isinstance(when, str) else when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    return {
        "source": "aws.cloudwatch",
        "alarmArn": alarm_arn or f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm_name}",
        "accountId": ACCOUNT,
        "time": stamp,
        "region": REGION,
        "alarmData": {
            "alarmName": alarm_name,
            "state": {
                "value": state,
                "reason": "Threshold Crossed: 1 datapoint [3.0] was >= the threshold (3.0).",
                "timestamp": stamp,
            },
            "previousState": {"value": "OK", "reason": "", "timestamp": "2025-01-01T11:59:00.000+0000"},
            "configuration": {"description": "Incident drill trigger", "metrics": []},
        },
    }


# A fresh default boto3 session re-reads the service models (~0.3 s a test); one is shared instead. It is
# made inside moto's context, after moto is imported, so moto's request stubber is among its handlers —
# a session made before that would send requests to AWS. Each client still gets its own event hooks.
_SHARED_SESSION: list[Any] = []


def new_session() -> Any:
    """A boto3 session of its own (own credentials chain and event hooks). It reads the service models
    through the process's one loader, as every session does here (`share_botocore_models`)."""
    import boto3

    return boto3.Session(region_name=REGION)


@contextlib.contextmanager
def moto_clients() -> Iterator[Any]:
    """moto for every AWS service in this process, with moto's fake keys and the region, and one set of the
    drill's clients on it (making clients costs more than a test case: share them across a module)."""
    from moto import mock_aws

    from drill.aws import Clients

    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
            patch.setenv(key, value)
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        yield Clients(new_session())


def shared_session() -> Any:
    """The one boto3 session the moto fixtures make default (see _SHARED_SESSION)."""
    import boto3

    if not _SHARED_SESSION:
        _SHARED_SESSION.append(boto3.Session(region_name=REGION))
    return _SHARED_SESSION[0]


@pytest.fixture
def aws_mock(monkeypatch):
    """moto for every AWS service, empty, with fake credentials, the fixed region and the shared boto3 session
    (yielded; `boto3.client(...)` uses it too). A module may make its clients once from `shared_session()`:
    making sessions and clients costs more than most moto tests. A test that adds a hook to one removes it."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", shared_session())
        yield shared_session()


@pytest.fixture(scope="module")
def moto_for_module() -> Iterator[None]:
    """moto started once for a module: each start registers ~1,300 URL callbacks (about 10 ms a test)."""
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def aws_reset(moto_for_module, monkeypatch):
    """`aws_mock` for a module of handler tests: moto runs for the whole module and every backend is emptied
    before each test, so each still starts from an empty account. Only for modules that start no moto of
    their own (a nested start would not reset)."""
    import boto3
    from moto.core.base_backend import BackendDict

    BackendDict.reset()
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", shared_session())
    yield shared_session()


# --------------------------------------------------------------------------------------------- scheduling
# The files that take longest, longest first (CPU seconds per file, measured with --durations and per-file
# timing, docs/testing.md). pytest-xdist's `--dist loadfile` hands a worker its next file when it is almost
# done (pyproject.toml turns off its reordering by test count): started first, no long file is left to run
# alone at the end while the other worker idles. Files not named here follow in their usual order.
LONGEST_FIRST = (
    # The README's command (measured there: `python -m pytest -q --durations=0`, seconds per file).
    "test_image_api.py",
    "test_image_seeder.py",
    "test_rehearsal.py",
    "test_fis_scenarios.py",
    "test_fault_injector.py",
    "test_observability.py",
    "test_image_seeder_manifest.py",
    "test_rehearsal_scenarios.py",
    "test_fault_experiments.py",
    "test_observability_program.py",
    # The e2e step (`-m e2e`).
    "test_drill_run.py",
    "test_drill_investigator_drift.py",
    "test_drill_investigator_v3.py",
    "test_gameday.py",
    "test_drill_preflight.py",
    "test_gameday_flow.py",
    "test_drill_investigator_fis.py",
    "test_rehearsal_fis.py",
    "test_incident_e2e.py",
)


E2E_MODULE = "pytestmark = pytest.mark.e2e"  # the line that makes every test of a module end-to-end


def pytest_ignore_collect(collection_path, config):
    """A module whose every test is end-to-end (its `pytestmark` line) is not even imported by a run that deselects
    e2e, the README's command: importing a test module means rewriting its asserts, seconds for these in each
    worker. Deselecting them after collection would run none of their tests either."""
    test_module = collection_path.suffix == ".py" and collection_path.name.startswith("test_")
    if test_module and not _selects_e2e(config):
        return any(line.startswith(E2E_MODULE) for line in collection_path.read_text().splitlines()) or None
    return None  # None: pytest's own rules decide


def pytest_collection_finish(session):
    """What is alive once the tests are collected (the libraries, pulumi_aws's classes, botocore's shared service
    models) lives as long as the process: `gc.freeze` takes it out of the collector's full passes, which otherwise
    walk it again and again (~0.25 s a pass, a third of a moto test file's CPU). Cyclic garbage not yet collected
    then is never freed: collection makes little."""
    gc.collect()
    gc.freeze()
    sys.dont_write_bytecode = True  # see the top of this file


def pytest_collection_modifyitems(config, items):
    rank = {name: number for number, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its own order


# --------------------------------------------------------------------------------------------- background runs
# Tests that build the program's stack (drill_fixtures.build_stack): the stack plan is recorded for them. They are
# all end-to-end (marker e2e: `build_stack` refuses any other test, see `in_e2e_test`), so the README's command,
# which deselects e2e, records nothing.
STACK_PLAN_USERS = (
    "test_drill_cleanup.py",
    "test_drill_cli_e2e.py",
    "test_drill_fixture_stack.py",
    "test_drill_investigate_path.py",
    "test_drill_investigator_path.py",
    "test_drill_investigator_drift.py",
    "test_drill_investigator_fis.py",
    "test_drill_investigator_v3.py",
    "test_drill_run.py",
    "test_gameday.py",
    "test_gameday_flow.py",
    "test_incident_e2e.py",
)


def _selects(config, files: tuple[str, ...]) -> bool:
    """Whether the command line names the whole suite or one of `files` (a cheap guess at start-up)."""
    tests = ROOT / "tests"
    named = {Path(arg.split("::")[0]).resolve() for arg in config.args}
    return bool(named & {tests, ROOT, *(tests / name for name in files)})


def _selects_e2e(config) -> bool:
    """Whether the `-m` expression lets end-to-end tests (marker e2e) run: the README's command does not."""
    from _pytest.mark.expression import Expression  # pytest's own reading of `-m`

    expression = config.option.markexpr
    return not expression or Expression.compile(expression).evaluate(lambda name, **_: name == "e2e")


def _start(config, variable: str, key: pytest.StashKey, start) -> None:
    folder = Path(tempfile.mkdtemp(prefix=f"aiops-{variable.lower()}-"))
    os.environ[variable] = str(folder)
    config.stash[key] = start(folder)


def share_botocore_models() -> None:
    """One botocore data loader for every session in this process. Each test (every `mock_aws`, every drill
    built in process) makes new boto3 sessions, and each session's own loader parsed the service models and
    endpoints.json again: about 70 ms of JSON per client, most of the CPU of a moto test. The models are
    read-only data, shared within a session already; sharing them across sessions changes no answer."""
    import botocore.loaders
    import botocore.session

    loaders: dict[str | None, botocore.loaders.Loader] = {}

    def shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
        if search_path_string not in loaders:
            loaders[search_path_string] = botocore.loaders.create_loader(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = shared_loader
    share_client_classes()


def share_client_classes() -> None:
    """One client class per service and session: botocore builds a new class for every client (a method per
    operation, then the session's `creating-client-class` handlers), about a third of making a client, and the
    handler tests make two clients per test (each handler's own, at its cold start). Same session, same service
    model (one loader), same handlers: the same class. Each client is still a new object with its own state."""
    import weakref

    import botocore.client

    build = botocore.client.ClientCreator._create_client_class
    # By the session's event emitter (its handlers), weakly: a session's classes go with it.
    classes: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], type]] = weakref.WeakKeyDictionary()

    def shared_class(creator, service_name, service_model):  # noqa: ANN001, ANN202 (botocore's own signature)
        built = classes.setdefault(creator._event_emitter, {})
        key = (service_name, service_model.api_version)
        if key not in built:
            built[key] = build(creator, service_name, service_model)
        return built[key]

    botocore.client.ClientCreator._create_client_class = shared_class


def pytest_configure(config):
    """Start, once and in the background before any test runs, what takes seconds and many tests read:
    `python -m drill rehearse --json` (tests/rehearsal_run.py) and the recording of the program's stack
    (tests/stack_plan.py). Under pytest-xdist this runs in the controller, before the workers start; they
    inherit the folders through the environment."""
    # A suite started in the background (`cmd &` in a script, nohup) inherits SIGINT ignored, and so would
    # every `python -m drill` it starts: the tests that press Ctrl-C would wait for nothing. A handler
    # here (the controller and each worker) is reset to the default in each child, which Python then catches.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    share_botocore_models()
    from drill.rehearsal.moto_server import serialise_operation_models

    serialise_operation_models()  # in-process moto is read from threads too (the investigator's sources)
    if hasattr(config, "workerinput"):
        return
    # The drill caches the program's declared state in the user's cache directory: tests use one of their own,
    # never the person's (the workers and every drill subprocess inherit it).
    config.stash[_CACHE] = os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="aiops-test-cache-")
    if (
        rehearsal_run.FOLDER_VARIABLE not in os.environ
        and _selects(config, ("test_rehearsal.py",))
        and _selects_e2e(config)  # only the story tests, all e2e, read the rehearsal
    ):
        _start(config, rehearsal_run.FOLDER_VARIABLE, _REHEARSAL, rehearsal_run.start)
    if stack_plan.FOLDER_VARIABLE not in os.environ and _selects(config, STACK_PLAN_USERS) and _selects_e2e(config):
        _start(config, stack_plan.FOLDER_VARIABLE, _STACK_PLAN, stack_plan.start)


_running: list[pytest.Item] = []  # the test being run in this process


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _running[:] = [item]


def in_e2e_test() -> bool:
    """Whether the test this process is running is marked e2e (or no test runs: a helper used from a script)."""
    return not _running or _running[0].get_closest_marker("e2e") is not None


def pytest_unconfigure(config):
    for key, variable in ((_REHEARSAL, rehearsal_run.FOLDER_VARIABLE), (_STACK_PLAN, stack_plan.FOLDER_VARIABLE)):
        process = config.stash.get(key, None)
        if process is not None:
            folder = Path(os.environ.pop(variable))
            rehearsal_run.stop(process, folder)
            shutil.rmtree(folder, ignore_errors=True)

    cache = config.stash.get(_CACHE, None)
    if cache is not None:  # the controller's (it made it): the workers have ended by now
        shutil.rmtree(cache, ignore_errors=True)


_CACHE = pytest.StashKey()
_REHEARSAL = pytest.StashKey()
_STACK_PLAN = pytest.StashKey()
