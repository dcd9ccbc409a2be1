"""A Lambda runtime in process: each function's real handler, run as Lambda would run it.

moto stores functions but cannot run them without Docker. Here a function (registered by the replica
from what the program declared) gets, per cold start, a fresh copy of its modules loaded from its own
folder, its declared environment plus what Lambda adds (function name, region, log group and stream,
its role's temporary credentials from sts:AssumeRole) and the moto endpoint. Invocations are serialised:
handlers read the environment at import and at call time, and the environment is the process's own.
Each invocation writes its log lines to the function's log group in Lambda's JSON format and puts
Invocations, Errors and Duration (AWS/Lambda, FunctionName) to CloudWatch.
A fault injector (`fault_injector`, set by drill/rehearsal/fis_standin.py, the FIS extension's stand-in) may
add a delay before the handler or fail the invocation, with or without running the handler; the delay is
reported in full in Duration while only its compressed share is slept (see `InjectedFault`).
Not modelled: timeouts, memory limits, concurrency, retries of asynchronous invokes.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from drill.rehearsal import lambda_logs
from drill.rehearsal.moto_server import isolated_environment


class FunctionNotFound(LookupError):
    pass


@dataclass(frozen=True)
class FunctionSpec:
    """What the program declared for one function (from its aws:lambda/function:Function inputs)."""

    name: str
    arn: str
    code_dir: Path
    handler: str  # "module.function", e.g. "handler.handler"
    role_arn: str
    log_group: str
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout: int = 3
    memory_size: int = 128


@dataclass(frozen=True)
class InjectedFault:
    """What a fault injector does to one invocation, before the handler runs (as the FIS extension does).

    `delay_ms` is the delay as configured: Duration (and, through `added_milliseconds`, the local API's Latency)
    reports it in full. Only `sleep_seconds` of wall time is spent, the delay compressed as the rehearsal's
    alarm periods are: invocations are serialised, and a full delay on a share of the traffic would stall it.
    """

    delay_ms: float = 0.0
    sleep_seconds: float = 0.0
    error: str = ""  # non-empty: the invocation fails with this message
    error_type: str = "InjectedFault"
    run_handler: bool = True  # False: the handler does not run (FIS invocation-error with preventExecution)
    log_line: str = ""  # what the injector logs into the function's log stream


FaultInjector = Callable[["FunctionSpec", Mapping[str, str]], "InjectedFault | None"]  # (spec, environment)


@dataclass
class Container:
    """One warm execution environment: the loaded modules, the environment and the log stream."""

    handler: Callable[[Any, Any], Any]
    modules: dict[str, ModuleType]  # the function's own modules, by import name
    environment: dict[str, str]
    log_stream: str
    boto3_session: Any = None  # the container's own boto3.DEFAULT_SESSION (its role's credentials)


@dataclass
class LambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@contextmanager
def own_default_session(container: Container) -> Iterator[None]:
    """boto3's module-level default session, per container: `boto3.client(...)` in a handler builds one on
    first use and keeps the credentials it resolved then. Shared by the whole process, the first function to
    run (the seeder) would lend its role to every other function; here each container gets a session of its
    own, made from its own environment (its role's credentials), and the process's is put back after."""
    import boto3

    saved = boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = container.boto3_session
    try:
        yield
    finally:
        container.boto3_session = boto3.DEFAULT_SESSION
        boto3.DEFAULT_SESSION = saved


def under(module: ModuleType, folder: Path) -> bool:
    file = getattr(module, "__file__", None)
    return bool(file) and Path(file).resolve().is_relative_to(folder)


@contextmanager
def on_path(folder: Path, modules: Mapping[str, ModuleType]) -> Iterator[None]:
    """The function's folder first on sys.path and its modules importable by their plain names."""
    displaced = {name: sys.modules[name] for name in modules if name in sys.modules}
    sys.path.insert(0, str(folder))
    sys.modules.update(modules)
    try:
        yield
    finally:
        sys.path.remove(str(folder))
        for name in modules:
            sys.modules.pop(name, None)
        sys.modules.update(displaced)


class LambdaRuntime:
    def __init__(
        self,
        *,
        base_environment: Mapping[str, str],
        region: str,
        clients: Mapping[str, Any],
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),  # when a metric datapoint is put (a seam)
    ) -> None:
        self.base_environment = dict(base_environment)
        self.wall = wall
        self.region = region
        self.clients = clients  # sts, logs, cloudwatch: made with explicit credentials, never swapped
        self.functions: dict[str, FunctionSpec] = {}
        self.containers: dict[str, Container] = {}
        self.invocations: list[dict[str, Any]] = []  # (function, ok, ms): a record for the notes
        self._lock = threading.RLock()
        self._logs = lambda_logs.LambdaLogHandler()
        self._cold_starts = 0
        self.fault_injector: FaultInjector | None = None  # asked before every invocation (the FIS stand-in)
        self._added = threading.local()  # per calling thread: the delay reported but not slept, last invocation

    # -- lifecycle
    def start(self) -> None:
        root = logging.getLogger()
        root.addHandler(self._logs)

    def stop(self) -> None:
        logging.getLogger().removeHandler(self._logs)

    def register(self, spec: FunctionSpec) -> None:
        """Create or update a function; a changed definition means the next invoke is a cold start."""
        with self._lock:
            if self.functions.get(spec.name) != spec:
                self.containers.pop(spec.name, None)
            self.functions[spec.name] = spec

    # -- invoke
    def invoke(self, name: str, event: Any) -> Any:
        """A synchronous invoke: the handler's JSON result, or Lambda's error payload when it raised."""
        with self._lock:
            spec = self.functions.get(name)
            if spec is None:
                raise FunctionNotFound(f"function {name} is not in the replica")
            container = self.containers.get(name) or self._cold_start(spec)
            request_id = str(uuid.uuid4())
            context = LambdaContext(
                function_name=spec.name,
                invoked_function_arn=spec.arn,
                memory_limit_in_mb=spec.memory_size,
                aws_request_id=request_id,
                log_group_name=spec.log_group,
                log_stream_name=container.log_stream,
                deadline=time.monotonic() + spec.timeout,
            )
            payload = json.loads(json.dumps(event))  # Lambda hands the handler a deserialised copy
            fault = self.fault_injector(spec, container.environment) if self.fault_injector else None
            capture = self._logs.begin(request_id)
            start = time.perf_counter()
            try:
                if fault is not None:
                    failed, result = self._inject(fault, capture, request_id)
                if fault is None or fault.run_handler:
                    failed, result = self._run_handler(spec, container, payload, context, request_id, fault)
            finally:
                self._logs.end()
            added_ms = fault.delay_ms - fault.sleep_seconds * 1000 if fault else 0.0
            self._added.milliseconds = added_ms
            duration_ms = (time.perf_counter() - start) * 1000 + added_ms
            lambda_logs.write(self.clients["logs"], spec.log_group, container.log_stream, capture)
            self._put_metrics(spec.name, failed, duration_ms)
            self.invocations.append({"function": name, "ok": not failed, "ms": round(duration_ms, 1)})
            return result

    def take_added_milliseconds(self) -> float:
        """The injected delay reported but not slept in this thread's last invocation, once (then 0; 0 without a
        fault): the local API adds it to its Latency, as API Gateway would measure the whole delay."""
        added, self._added.milliseconds = getattr(self._added, "milliseconds", 0.0), 0.0
        return added

    def _inject(self, fault: InjectedFault, capture: lambda_logs.Capture, request_id: str) -> tuple[bool, Any]:
        """The injector's part, before the handler: its log line, its (compressed) delay, its error."""
        if fault.log_line:
            capture.add(
                logging.makeLogRecord({"name": "aws-fis-extension", "levelname": "INFO", "msg": fault.log_line})
            )
        if fault.sleep_seconds > 0:
            time.sleep(fault.sleep_seconds)
        if not fault.error:
            return False, None
        return True, {"errorMessage": fault.error, "errorType": fault.error_type, "requestId": request_id}

    def _run_handler(
        self,
        spec: FunctionSpec,
        container: Container,
        payload: Any,
        context: LambdaContext,
        request_id: str,
        fault: InjectedFault | None,
    ) -> tuple[bool, Any]:
        with (
            isolated_environment(container.environment),
            on_path(spec.code_dir, container.modules),
            own_default_session(container),
        ):
            try:
                result = json.loads(json.dumps(container.handler(payload, context)))
            except Exception as err:  # Lambda reports it, logs it and counts an error
                logging.getLogger().error("handler failed", exc_info=err)
                return True, {
                    "errorMessage": str(err),
                    "errorType": type(err).__name__,
                    "requestId": request_id,
                    "stackTrace": traceback.format_tb(err.__traceback__),
                }
        if fault is not None and fault.error:  # the handler ran, and the invocation fails all the same
            return True, {"errorMessage": fault.error, "errorType": fault.error_type, "requestId": request_id}
        return False, result

    def _cold_start(self, spec: FunctionSpec) -> Container:
        self._cold_starts += 1
        credentials = self.clients["sts"].assume_role(RoleArn=spec.role_arn, RoleSessionName=spec.name)["Credentials"]
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.clients["logs"].create_log_stream(logGroupName=spec.log_group, logStreamName=stream)
        environment = {
            **self.base_environment,
            **spec.environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }
        module_name, _, function_name = spec.handler.rpartition(".")
        folder = spec.code_dir.resolve()
        # Modules of this folder left over from an earlier container (or another function) must not be reused.
        # Snapshots (dict.copy is atomic): other threads (the Pulumi engine, the seeder's pool) import too.
        stale = {n: m for n, m in sys.modules.copy().items() if under(m, folder) or n == module_name}
        for n in stale:
            del sys.modules[n]
        before = set(sys.modules.copy())
        fresh = Container(handler=lambda _event, _context: None, modules={}, environment=environment, log_stream=stream)
        with isolated_environment(environment), on_path(folder, {}), own_default_session(fresh):
            dont_write = sys.dont_write_bytecode
            sys.dont_write_bytecode = True  # bytecode in functions/<name>/ would be packaged into the zip
            try:
                spec_ = importlib.util.spec_from_file_location(module_name, folder / f"{module_name}.py")
                module = importlib.util.module_from_spec(spec_)
                sys.modules[module_name] = module
                spec_.loader.exec_module(module)
            finally:
                sys.dont_write_bytecode = dont_write
        now = sys.modules.copy()
        loaded = {n: m for n, m in now.items() if n not in before and under(m, folder)}
        loaded[module_name] = module
        for n in loaded:
            sys.modules.pop(n, None)
        sys.modules.update({n: m for n, m in stale.items() if not under(m, folder)})
        container = Container(getattr(module, function_name), loaded, environment, stream, fresh.boto3_session)
        self.containers[spec.name] = container
        return container

    def _put_metrics(self, function: str, failed: bool, duration_ms: float) -> None:
        dimensions = [{"Name": "FunctionName", "Value": function}]
        now = self.wall()
        self.clients["cloudwatch"].put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {"MetricName": "Invocations", "Dimensions": dimensions, "Timestamp": now, "Value": 1, "Unit": "Count"},
                {
                    "MetricName": "Errors",
                    "Dimensions": dimensions,
                    "Timestamp": now,
                    "Value": int(failed),
                    "Unit": "Count",
                },
                {
                    "MetricName": "Duration",
                    "Dimensions": dimensions,
                    "Timestamp": now,
                    "Value": duration_ms,
                    "Unit": "Milliseconds",
                },
            ],
        )

    @property
    def cold_starts(self) -> int:
        return self._cold_starts
