"""The stage's stage-wide (`*/*`) throttling as a scenario state: {"rateLimit", "burstLimit"}."""

from __future__ import annotations

from drill.errors import DrillError
from drill.outputs import REST_API_ID
from drill.scenarios.model import State
from drill.steps.model import Drill

STAGE = "prod"  # components/rest_api.py STAGE_NAME (the endpoint ends in /prod/random)
ALL_METHODS = "*/*"


def api_id(drill: Drill) -> str:
    return drill.outputs.require(REST_API_ID)


def read_throttling(drill: Drill) -> State:
    stage = drill.clients.client("apigateway").get_stage(restApiId=api_id(drill), stageName=STAGE)
    settings = (stage.get("methodSettings") or {}).get(ALL_METHODS)
    if not settings:
        return None
    return {"rateLimit": settings.get("throttlingRateLimit"), "burstLimit": settings.get("throttlingBurstLimit")}


def write_throttling(drill: Drill, _current: State, wanted: State) -> None:
    operations = [
        {"op": "replace", "path": f"/{ALL_METHODS}/throttling/{key}", "value": _number(wanted[key])}
        for key in ("rateLimit", "burstLimit")
    ]
    drill.clients.client("apigateway").update_stage(
        restApiId=api_id(drill), stageName=STAGE, patchOperations=operations
    )


def _number(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def zero_throttling(drill: Drill, prior: State) -> State:
    if prior is None or prior.get("rateLimit") is None or prior.get("burstLimit") is None:
        # Without stage-wide settings there is nothing to put back exactly; the stack always sets them.
        raise DrillError(f"stage {STAGE} of API {api_id(drill)} has no {ALL_METHODS} throttling to restore afterwards")
    return {"rateLimit": 0, "burstLimit": 0}
