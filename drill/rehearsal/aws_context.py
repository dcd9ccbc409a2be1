"""What every provisioner shares: the moto clients, region and account, the Lambda runtime and the notes.

Provisioners have the signature `(aws, name, inputs) -> (id, outputs)`: `name` is the Pulumi resource
name, `inputs` the resolved inputs (camelCase, as the engine sees them), `outputs` what the program
reads back (ids, ARNs, URLs), in moto's values. `Skip` marks a resource moto cannot hold: it is listed
in the notes and gets placeholder outputs, so the program still completes.

Tags: the replica merges the resource's provider's default tags into `inputs["tagsAll"]` for every
taggable type, as the real provider does; a provisioner applies `tags_all(inputs)` to what it creates
and answers with `tagsAll` among its outputs (the replica notes any taggable resource that does not).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drill.rehearsal.runtime import LambdaRuntime

SERVICES = ("s3", "ssm", "iam", "lambda", "logs", "cloudwatch", "apigateway", "sts", "dynamodb", "fis")


class Skip(Exception):  # noqa: N818 (a signal, not an error)
    """This resource is not provisioned into moto; the message says why."""


@dataclass
class Aws:
    clients: dict[str, Any]
    region: str
    account: str
    runtime: LambdaRuntime
    root: Path  # the project root: relative paths in inputs (function code) are relative to it
    caveats: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)  # set on Ctrl-C/SIGTERM: provision no more

    def client(self, service: str) -> Any:
        return self.clients[service]

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account}:{resource}"

    def caveat(self, text: str) -> None:
        with self.lock:
            if text not in self.caveats:
                self.caveats.append(text)


Provisioner = Callable[[Aws, str, dict[str, Any]], tuple[str, dict[str, Any]]]


def tags_all(inputs: dict[str, Any]) -> dict[str, str]:
    """The tags the resource carries in AWS: the provider's default tags with the resource's own on top."""
    return {str(k): str(v) for k, v in (inputs.get("tagsAll") or {}).items()}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """Tags as the Key/Value list most AWS APIs take (S3, SSM, IAM, CloudWatch)."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def autoname(name: str, inputs: dict[str, Any], key: str = "name", *, lower: bool = False) -> str:
    """The physical name: the declared one, or Pulumi's auto-name (resource name + 7 random hex digits)."""
    declared = inputs.get(key)
    if declared:
        return str(declared)
    generated = f"{name}-{secrets.token_hex(4)[:7]}"
    return generated.lower() if lower else generated
