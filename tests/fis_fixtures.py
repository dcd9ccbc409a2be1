"""FIS test helpers: the stack's FIS resources in moto, and a stand-in for what FIS does that moto does not.

moto 5.2.5 (moto/fis/models.py, moto/moto_api/__init__.py) keeps experiments as a ManagedState whose default
transition is `manual, times 1`: every GetExperiment moves an experiment one state on, pending → initiating
→ running → completed, and StopExperiment's `stopping` becomes `stopped` on the next one. It runs no action
and writes no configuration. The stand-in therefore freezes that transition (moto's own state manager) and
moves the experiments itself, where the drill waits (`drill.sleep`): a starting experiment becomes `running`
and FIS's configuration object appears under the location; a stopping one becomes `stopped` and the object
goes. The drill's code never sees moto: it polls GetExperiment and ListObjectsV2 as against AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from conftest import ACCOUNT, REGION

from drill import outputs

MODEL = "fis::experiment"  # moto's state-manager name for experiments
FROZEN = {"progression": "manual", "times": 10**9}  # a billion GetExperiments before moto moves one on
PREFIX = "FisConfigs/"  # components/fault_experiments.py CONFIGURATION_PREFIX + "/"


@contextmanager
def frozen_experiments() -> Iterator[None]:
    """moto's experiments keep their state until the stand-in (or a test) moves them."""
    from moto.moto_api import state_manager

    state_manager.set_transition(model_name=MODEL, transition=FROZEN)
    try:
        yield
    finally:
        state_manager.unset_transition(MODEL)


def experiments() -> dict[str, Any]:
    """moto's experiments of the test account and region, by id (in-process moto or a ThreadedMotoServer)."""
    from moto.fis.models import fis_backends

    return fis_backends[ACCOUNT][REGION].experiments


def set_status(experiment_id: str, status: str) -> None:
    experiments()[experiment_id].status = status


def add_fis(clients: dict[str, Any] | Any, stack_outputs: dict[str, str], prefix: str) -> dict[str, str]:
    """The two templates and the configuration bucket of components/fault_experiments.py, in moto; the
    outputs a stack deployed with fisEnabled=true adds (also written into `stack_outputs`)."""
    client = clients["fis"] if isinstance(clients, dict) else clients.client("fis")
    s3 = clients["s3"] if isinstance(clients, dict) else clients.client("s3")
    bucket = f"{prefix}-fis-config"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{stack_outputs.get(outputs.IMAGE_FUNCTION, 'f')}"
    ids = {}
    for key, action, parameters in (
        ("latency", "aws:lambda:invocation-add-delay", {"startupDelayMilliseconds": "3000"}),
        ("errors", "aws:lambda:invocation-error", {"preventExecution": "true"}),
    ):
        ids[key] = client.create_experiment_template(
            clientToken=f"{prefix}-{key}",
            description=f"{prefix} function {key}",
            stopConditions=[{"source": "none"}],
            targets={
                "Functions": {
                    "resourceType": "aws:lambda:function",
                    "resourceArns": [function_arn],
                    "selectionMode": "ALL",
                }
            },
            actions={
                key: {
                    "actionId": action,
                    "parameters": {"duration": "PT5M", "invocationPercentage": "20", **parameters},
                    "targets": {"Functions": "Functions"},
                }
            },
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{prefix}-fis",
            tags={"Name": f"{prefix}-function-{key}"},
        )["experimentTemplate"]["id"]
    added = {
        outputs.FIS_LATENCY_TEMPLATE: ids["latency"],
        outputs.FIS_ERRORS_TEMPLATE: ids["errors"],
        outputs.FIS_CONFIGURATION_LOCATION: f"arn:aws:s3:::{bucket}/{PREFIX}",
    }
    stack_outputs.update(added)
    return added


class FisStandIn:
    """`drill.sleep` for FIS scenarios: on each call, while frozen_experiments() holds moto's experiments,
    starting experiments run (their configuration object appears) and stopping ones stop (it goes), as FIS
    would. `hold` keeps them where they are (a test that wants the wait to time out); `clock` advances by
    what was slept, so waits end by the drill's own rule."""

    def __init__(self, s3: Any, location: str, *, then: Any = None) -> None:
        bucket, _, prefix = location.removeprefix("arn:aws:s3:::").partition("/")
        self.s3, self.bucket, self.prefix = s3, bucket, prefix
        self.hold = False
        self.now = 0.0
        self.then = then  # another sleep stand-in to call as well (the seed's alarm action)

    def clock(self) -> float:
        return self.now

    def __call__(self, seconds: float) -> None:
        self.now += max(seconds, 0.01)
        if self.then:
            self.then(seconds)
        if not self.hold:
            self.advance()

    def advance(self) -> None:
        from moto.moto_api import state_manager

        if state_manager.get_transition(MODEL).get("times") != FROZEN["times"]:
            return  # moto moves them on by itself: one state per GetExperiment
        for experiment_id, experiment in experiments().items():
            status = experiment.status
            key = f"{self.prefix}{experiment_id}.json"
            if status in ("pending", "initiating"):
                experiment.status = "running"
                body = json.dumps({"experiment": experiment_id, "actions": list(experiment.actions)})
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode())
            elif status == "stopping":
                experiment.status = "stopped"
                self.s3.delete_object(Bucket=self.bucket, Key=key)
