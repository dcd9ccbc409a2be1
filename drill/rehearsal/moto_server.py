"""The embedded AWS: a moto server on 127.0.0.1 and a free port, and an environment that can only reach it.

The rehearsal must never reach real AWS, whatever the shell exports: every AWS_* variable is removed for
as long as the rehearsal runs and replaced by fake credentials, the stack's region and the moto endpoint
(boto3 >= 1.28 reads AWS_ENDPOINT_URL for every service). The old environment comes back afterwards.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}  # noqa: S105 (moto's)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def aws_environment(endpoint: str, region: str) -> dict[str, str]:
    """What every boto3 client of the rehearsal sees: moto, fake keys, no profile or config files."""
    return {
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextmanager
def isolated_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Drop every AWS_* variable, set `values`, and put the caller's environment back on exit."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_") or k in values}
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update(values)
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith("AWS_") or k in values]:
            del os.environ[key]
        os.environ.update(saved)


@dataclass(frozen=True)
class MotoEndpoint:
    url: str
    port: int


@contextmanager
def moto_server() -> Iterator[MotoEndpoint]:
    """A ThreadedMotoServer for the duration of the block; stopped on any exit (error, Ctrl-C, SIGTERM).

    The server is a thread of this process, so nothing outlives the command: stopping it closes its port.
    """
    from moto.server import ThreadedMotoServer  # imported here: moto is heavy and only this command needs it

    serialise_operation_models()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield MotoEndpoint(url=f"http://127.0.0.1:{port}", port=port)
    finally:
        server.stop()


_MODELS_LOCK = threading.Lock()


def serialise_operation_models() -> None:
    """One thread at a time builds moto's model of an API operation. moto 5.2.5's
    `ServiceModel.operation_model` wraps botocore's method of the same name, and both cache under one key:
    botocore's answer is stored first, then replaced by moto's. A second thread asking for the same operation
    in between (a threaded server's first concurrent requests, the investigator's concurrent reads) got
    botocore's model, and the request failed with "'OperationModel' object has no attribute 'http_trait'"."""
    from moto.core.model import ServiceModel

    built = ServiceModel.operation_model
    if getattr(built, "serialised", False):
        return

    def operation_model(self: Any, operation_name: str) -> Any:
        with _MODELS_LOCK:
            return built(self, operation_name)

    operation_model.serialised = True  # type: ignore[attr-defined]
    ServiceModel.operation_model = operation_model  # type: ignore[method-assign]


def cloudwatch_start(start: datetime, period: int) -> datetime:
    """GetMetricData's StartTime as CloudWatch rounds it (for data less than 15 days old): down to the whole
    minute, or for a period of 5, 10, 20 or 30 s down to that division of the minute
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html)."""
    step = period if period < 60 else 60
    # Arithmetic on the value itself: moto hands naive UTC datetimes, and they stay naive.
    return start.replace(microsecond=0) - timedelta(seconds=start.second % step)


def whole_second_after(end: datetime) -> datetime:
    """`end` rounded up to a whole second: moto compares EndTime in whole seconds, dropping the fraction."""
    return end if end.microsecond == 0 else end.replace(microsecond=0) + timedelta(seconds=1)


@contextmanager
def cloudwatch_metric_windows() -> Iterator[None]:
    """moto's GetMetricData, with its window read as CloudWatch reads it, for the duration of the block.

    moto keeps StartTime to the second, so its one-minute datapoints start at the request's seconds (a "first
    at" up to a minute before any traffic), and drops EndTime's fraction of a second, so what was put in the
    last second before the window's end is left out (the last 5XX just before an investigation, say). Here
    StartTime is rounded down as CloudWatch rounds it, and EndTime up to the whole second (a datapoint put in
    that fraction of a second after the end counts: the rehearsal puts none while the investigator reads).
    The server runs in this process, so the backend's method is wrapped here and put back on exit.
    """
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.get_metric_data

    def get_metric_data(
        self: Any, queries: list[dict[str, Any]], start_time: datetime, end_time: datetime, **options: Any
    ) -> Any:
        periods = [int(q["MetricStat"]["Period"]) for q in queries if "MetricStat" in q]
        start = cloudwatch_start(start_time, min(periods)) if periods else start_time
        return original(self, queries, start, whole_second_after(end_time), **options)

    CloudWatchBackend.get_metric_data = get_metric_data
    try:
        yield
    finally:
        CloudWatchBackend.get_metric_data = original
