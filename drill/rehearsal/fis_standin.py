"""A stand-in for what AWS FIS and its Lambda extension do while an experiment runs, for the offline rehearsal.

moto (5.2.5) records experiments (StartExperiment, GetExperiment, ListExperiments, StopExperiment) but runs
no action, and the FIS Lambda extension is a layer that cannot run in process. This module imitates both
halves, no more, as "Use the AWS FIS aws:lambda:function actions" describes them
(https://docs.aws.amazon.com/fis/latest/userguide/use-lambda-actions.html):

- FIS's half (`sync`, called on a tick): an experiment moto has just recorded (pending) is set running; for
  each `aws:lambda:invocation-*` action, the configuration location is read from each target function's
  environment (AWS_FIS_CONFIGURATION_LOCATION) and a configuration object is written there, "as FIS does".
  The experiment ends when its action's `duration` has passed (completed), when StopExperiment was called
  (stopping -> stopped), or when one of its stop-condition alarms is in ALARM (stopped); each time the
  configuration objects are deleted. moto's own state progression (one step per GetExperiment, so an
  experiment would "complete" after three reads) is switched off while the stand-in is installed.
- The extension's half (`fault_for`, the runtime's fault injector): a function whose environment names a
  configuration location polls it, every AWS_FIS_SLOW_POLL_INTERVAL_SECONDS (default 60) while nothing is
  configured and every FAST_POLL_SECONDS while faults are, and applies each configured action to its share
  of invocations (`invocationPercentage`, decided by a seeded random generator, so tests are deterministic):
  `aws:lambda:invocation-add-delay` adds `startupDelayMilliseconds` before the handler,
  `aws:lambda:invocation-error` fails the invocation, without running the handler when `preventExecution`
  is true (parameters: https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html#aws-lambda-actions-reference).
  The runtime then puts Duration/Errors, and the local API Latency/5XXError, as for any invocation.

The rehearsal's time compression applies: `minute` wall seconds stand for a minute of experiment duration,
of poll interval and of added delay (the delay is reported in full in Duration and Latency, and slept
compressed: runtime.InjectedFault).

Not imitated: the configuration object's real format (FIS's is not documented; the stand-in's own is
labelled in it), the experiment log, target resolution by tags, actions other than the Lambda invocation
ones, IAM (moto evaluates none), and the extension's exact log lines.

API, for `rehearse --scenario`: `with running(...)`, or `FisStandIn(...).install()`, then `sync()` on every
tick, and `uninstall()` at the end; `notes()` are lines for the rehearsal's notes.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from drill.rehearsal.runtime import FunctionSpec, InjectedFault, LambdaRuntime

STATE_MODEL = "fis::experiment"  # moto's state-manager name for experiments
NEVER = {"progression": "manual", "times": 2**62}  # moto's experiments move only when the stand-in moves them
LAMBDA_ACTIONS = ("aws:lambda:invocation-add-delay", "aws:lambda:invocation-error")
LOCATION_VARIABLE = "AWS_FIS_CONFIGURATION_LOCATION"
SLOW_POLL_VARIABLE = "AWS_FIS_SLOW_POLL_INTERVAL_SECONDS"
SLOW_POLL_DEFAULT_SECONDS = 60.0  # the documented default (use-lambda-actions.html, environment variables)
FAST_POLL_SECONDS = 20.0  # while injecting: the documented ramp-down is up to 20 s after an experiment ends
LOCATION = re.compile(r"^arn:aws[a-z-]*:s3:::(?P<bucket>[^/]+)/(?P<prefix>.*)$")
DURATION = re.compile(r"^PT(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?$")
STAND_IN = "drill rehearsal FIS stand-in: not the format AWS FIS writes (undocumented)"
ERROR_TYPE = "FisStandInInjectedError"


def iso_seconds(duration: str) -> float:
    """An FIS action duration (ISO 8601, "PT5M") in seconds."""
    found = DURATION.match(duration or "")
    if not found or not any(found.groupdict().values()):
        raise ValueError(f"FIS duration {duration!r} is not of the form PT<h>H<m>M<s>S")
    return sum(int(found[unit] or 0) * scale for unit, scale in (("h", 3600), ("m", 60), ("s", 1)))


def location_of(environment: Mapping[str, str]) -> tuple[str, str] | None:
    """(bucket, prefix) of AWS_FIS_CONFIGURATION_LOCATION ("arn:aws:s3:::bucket/FisConfigs/"), None without one."""
    found = LOCATION.match(environment.get(LOCATION_VARIABLE) or "")
    return (found["bucket"], found["prefix"]) if found else None


@dataclass(frozen=True)
class Configuration:
    """One action's fault on one function, as the stand-in writes it and its extension reads it."""

    experiment_id: str
    action_name: str
    action_id: str
    function_arn: str
    parameters: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"standIn": STAND_IN, **{k: v for k, v in vars(self).items()}}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Configuration:
        return cls(
            **{k: document[k] for k in ("experiment_id", "action_name", "action_id", "function_arn", "parameters")}
        )

    @property
    def percentage(self) -> float:
        return float(self.parameters.get("invocationPercentage", "100"))


@dataclass
class Running:
    """An experiment the stand-in set running: when it ends, and the objects to delete then."""

    ends_at: float  # wall clock (time.monotonic)
    objects: list[tuple[str, str]]  # (bucket, key)
    stop_alarms: list[str]  # alarm names of its stop conditions


@dataclass
class Polled:
    """The extension's view of one function's configuration location, as of its last poll."""

    at: float
    configurations: list[Configuration]


@dataclass
class FisStandIn:
    clients: Mapping[str, Any]  # fis, s3, lambda, cloudwatch (the rehearsal's own moto clients)
    runtime: LambdaRuntime
    account: str
    region: str
    minute: float  # wall seconds that stand for one minute (the rehearsal's MINUTE_SECONDS)
    seed: int = 0
    clock: Callable[[], float] = time.monotonic  # a seam for tests
    running_experiments: dict[str, Running] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)  # what happened, for the notes
    injected: dict[str, int] = field(default_factory=dict)  # action id -> invocations it affected

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 (a share of invocations, reproducible: not a secret)
        self._polled: dict[str, Polled] = {}  # by function name
        self._lock = threading.RLock()
        self._start = self.clock()

    # -- lifecycle
    def install(self) -> None:
        from moto.moto_api import state_manager

        state_manager.set_transition(model_name=STATE_MODEL, transition=NEVER)
        self.runtime.fault_injector = self.fault_for

    def uninstall(self) -> None:
        from moto.moto_api import state_manager

        state_manager.unset_transition(STATE_MODEL)
        if self.runtime.fault_injector == self.fault_for:
            self.runtime.fault_injector = None

    def scaled(self, seconds: float) -> float:
        """Wall seconds standing for `seconds` of AWS time."""
        return seconds / 60 * self.minute

    # -- FIS's half
    def sync(self) -> None:
        """Move every experiment on as FIS would, from what moto recorded (call it on every tick)."""
        with self._lock:
            for summary in self._experiments():
                experiment_id, status = summary["id"], summary["state"]["status"]
                tracked = self.running_experiments.get(experiment_id)
                if tracked is None and status in ("pending", "initiating"):
                    self._start_experiment(self.clients["fis"].get_experiment(id=experiment_id)["experiment"])
                elif tracked is not None and status == "stopping":  # StopExperiment was called
                    self._end(experiment_id, "stopped", "Experiment stopped")
                elif tracked is not None and status == "running":
                    alarm = self._stop_alarm_in_alarm(tracked.stop_alarms)
                    if alarm:
                        self._end(experiment_id, "stopped", f"Experiment stopped by stop condition {alarm}")
                    elif self.clock() >= tracked.ends_at:
                        self._end(experiment_id, "completed", "Experiment completed")

    def _experiments(self) -> list[dict[str, Any]]:
        found, token = [], None
        while True:
            page = self.clients["fis"].list_experiments(**({"nextToken": token} if token else {}))
            found += page.get("experiments", [])
            token = page.get("nextToken")
            if not token:
                return found

    def _start_experiment(self, experiment: dict[str, Any]) -> None:
        experiment_id = experiment["id"]
        objects: list[tuple[str, str]] = []
        seconds = 0.0
        try:
            for action_name, action in (experiment.get("actions") or {}).items():
                if action.get("actionId") not in LAMBDA_ACTIONS:
                    raise ValueError(f"action {action_name} ({action.get('actionId')}) is not imitated offline")
                seconds = max(seconds, iso_seconds(action.get("parameters", {}).get("duration", "")))
                for function_arn in self._functions(experiment, action):
                    objects.append(self._write(experiment_id, action_name, action, function_arn))
        except (ValueError, LookupError) as problem:
            for bucket, key in objects:
                self.clients["s3"].delete_object(Bucket=bucket, Key=key)
            self._set_status(experiment_id, "failed", f"Experiment failed: {problem}")
            return
        stop_alarms = [
            c["value"].split(":alarm:", 1)[1]
            for c in experiment.get("stopConditions") or []
            if c.get("source") == "aws:cloudwatch:alarm" and ":alarm:" in c.get("value", "")
        ]
        self.running_experiments[experiment_id] = Running(self.clock() + self.scaled(seconds), objects, stop_alarms)
        self._set_status(experiment_id, "running", "Experiment is running")

    def _functions(self, experiment: dict[str, Any], action: dict[str, Any]) -> list[str]:
        """The action's target functions, by ARN (targets by tags are not resolved offline)."""
        arns: list[str] = []
        for target_name in (action.get("targets") or {}).values():
            target = (experiment.get("targets") or {})[target_name]
            if not target.get("resourceArns"):
                raise ValueError(f"target {target_name} does not list its functions by ARN")
            arns += target["resourceArns"]
        return arns

    def _write(
        self, experiment_id: str, action_name: str, action: dict[str, Any], function_arn: str
    ) -> tuple[str, str]:
        """FIS reads the configuration location from the function and writes the fault there."""
        configuration = self.clients["lambda"].get_function_configuration(FunctionName=function_arn)
        where = location_of((configuration.get("Environment") or {}).get("Variables") or {})
        if where is None:
            raise ValueError(f"function {function_arn} has no {LOCATION_VARIABLE}")
        bucket, prefix = where
        key = f"{prefix}{configuration['FunctionName']}/{experiment_id}-{action_name}.json"
        document = Configuration(
            experiment_id, action_name, action["actionId"], function_arn, dict(action["parameters"])
        )
        self.clients["s3"].put_object(Bucket=bucket, Key=key, Body=json.dumps(document.to_json()).encode())
        self.events.append(f"+{self.clock() - self._start:.1f}s {experiment_id}: wrote s3://{bucket}/{key}")
        return bucket, key

    def _stop_alarm_in_alarm(self, names: list[str]) -> str | None:
        if not names:
            return None
        alarms = self.clients["cloudwatch"].describe_alarms(AlarmNames=names)["MetricAlarms"]
        return next((a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM"), None)

    def _end(self, experiment_id: str, status: str, reason: str) -> None:
        tracked = self.running_experiments.pop(experiment_id)
        for bucket, key in tracked.objects:
            self.clients["s3"].delete_object(Bucket=bucket, Key=key)
        self._set_status(experiment_id, status, reason)

    def _set_status(self, experiment_id: str, status: str, reason: str) -> None:
        """moto's API cannot move an experiment: its backend (the server runs in this process) is told directly."""
        from moto.fis.models import Experiment, fis_backends

        experiment = fis_backends[self.account][self.region].experiments[experiment_id]
        experiment.STATUS_REASONS = {**Experiment.STATUS_REASONS, status: reason}  # this experiment's reason
        experiment.status = status
        self.events.append(f"+{self.clock() - self._start:.1f}s {experiment_id}: {status} ({reason})")

    # -- the extension's half
    def fault_for(self, spec: FunctionSpec, environment: Mapping[str, str]) -> InjectedFault | None:
        """The runtime's fault injector: what this invocation gets from the configured faults, if anything."""
        where = location_of(environment)
        if where is None:  # a function without the extension
            return None
        with self._lock:
            configurations = [c for c in self._poll(spec.name, where, environment) if c.function_arn == spec.arn]
            chosen = [c for c in configurations if self._random.random() * 100 < c.percentage]
            for c in chosen:
                self.injected[c.action_id] = self.injected.get(c.action_id, 0) + 1
        if not chosen:
            return None
        delay_ms = sum(float(c.parameters.get("startupDelayMilliseconds", 0)) for c in chosen)
        errors = [c for c in chosen if c.action_id == "aws:lambda:invocation-error"]
        prevent = any(c.parameters.get("preventExecution", "").lower() == "true" for c in errors)
        lines = [f"adding {delay_ms:g} milliseconds of latency"] if delay_ms else []
        lines += (
            ["injecting an invocation error" + (" without running the handler" if prevent else "")] if errors else []
        )
        return InjectedFault(
            delay_ms=delay_ms,
            sleep_seconds=self.scaled(delay_ms / 1000),
            error=f"invocation error injected by FIS experiment {errors[0].experiment_id} (rehearsal stand-in)"
            if errors
            else "",
            error_type=ERROR_TYPE,
            run_handler=not prevent,
            log_line="AWS FIS EXTENSION (rehearsal stand-in) - " + "; ".join(lines),
        )

    def _poll(self, function: str, where: tuple[str, str], environment: Mapping[str, str]) -> list[Configuration]:
        """The configurations as of the last poll, polling again once the interval has passed."""
        last = self._polled.get(function)
        now = self.clock()
        if last is not None:
            interval = (
                FAST_POLL_SECONDS
                if last.configurations
                else float(environment.get(SLOW_POLL_VARIABLE) or SLOW_POLL_DEFAULT_SECONDS)
            )
            if now - last.at < self.scaled(interval):
                return last.configurations
        bucket, prefix = where
        s3 = self.clients["s3"]
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
        configurations = []
        for key in keys:
            try:
                document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                configurations.append(Configuration.from_json(document))
            except (s3.exceptions.NoSuchKey, ValueError, KeyError, TypeError):  # deleted meanwhile, or not ours
                continue
        self._polled[function] = Polled(now, configurations)
        return configurations

    # -- the notes
    def notes(self) -> list[str]:
        counts = ", ".join(f"{action} x{n}" for action, n in sorted(self.injected.items())) or "none"
        return [
            "FIS stand-in (not AWS FIS): moto records the experiments; this rehearsal's stand-in sets them running, "
            f"writes the fault configuration to each target function's {LOCATION_VARIABLE}, ends them after their "
            "duration, on StopExperiment or on a stop-condition alarm, and deletes the configuration; its extension "
            "stand-in polls that location (the slow poll interval while idle, 20 s while injecting, compressed) and "
            "applies the delay or error to the configured share of invocations (seeded). The delay is reported in "
            "full in Duration and Latency and slept compressed. Not imitated: the real configuration format, the "
            "experiment log, targets by tag, IAM, the extension's own log lines.",
            f"FIS stand-in injected: {counts}",
            *(f"FIS stand-in {event}" for event in self.events),
        ]


@contextmanager
def running(stand_in: FisStandIn, tick: float) -> Iterator[FisStandIn]:
    """The stand-in installed, with `sync` on a thread every `tick` seconds; uninstalled (and the thread
    stopped) on any exit."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(tick):
            try:
                stand_in.sync()
            except Exception as err:  # keep going; the notes say what went wrong
                stand_in.events.append(f"sync error: {type(err).__name__}: {err}")

    stand_in.install()
    thread = threading.Thread(target=loop, name="rehearsal-fis-stand-in", daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        stop.set()
        thread.join(timeout=10)
        stand_in.uninstall()
