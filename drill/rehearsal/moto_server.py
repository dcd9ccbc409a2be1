"""The embedded AWS: a moto server on 127.0.0.1 and a free port, and an environment that can only reach it.

The rehearsal must never reach real AWS, whatever the shell exports: every AWS_* variable is removed for
as long as the rehearsal runs and replaced by fake credentials, the stack's region and the moto endpoint
(boto3 >= 1.28 reads AWS_ENDPOINT_URL for every service). The old environment comes back afterwards.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

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

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield MotoEndpoint(url=f"http://127.0.0.1:{port}", port=port)
    finally:
        server.stop()
