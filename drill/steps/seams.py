"""The real seams (an HTTPS GET of the API, a synchronous `lambda:Invoke`) and the drill's own GET /random event."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from drill import stack
from drill.aws import Clients
from drill.errors import FunctionFailed, UsageError
from drill.shared.api_event import proxy_event
from drill.steps.model import ApiProbe, FunctionCaller, Probe


def api_gateway_event() -> dict[str, Any]:
    """What API Gateway sends the image function for GET /random (the drill invokes it directly with this)."""
    return proxy_event("GET", "/random", "prod", "/random", {"Accept": "*/*", "User-Agent": "aiops-drill"})


def http_probe(url: str, *, timeout: float = 10) -> ApiProbe:
    """GET the API endpoint; HTTP errors are answers, network errors are `status=None`."""
    if not url.startswith(("https://", "http://")):
        raise UsageError(f"stack output {stack.API_ENDPOINT} is not an http(s) URL: {url!r}")

    def probe() -> Probe:
        start = time.monotonic()
        request = urllib.request.Request(url, headers={"User-Agent": "aiops-drill"}, method="GET")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked above)
                response.read()
                return Probe(response.status, (time.monotonic() - start) * 1000)
        except urllib.error.HTTPError as err:
            return Probe(err.code, (time.monotonic() - start) * 1000)
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", err)
            return Probe(None, (time.monotonic() - start) * 1000, str(reason))

    return probe


def lambda_caller(clients: Clients) -> FunctionCaller:
    """Synchronous `lambda:Invoke`: the function's JSON result; `FunctionFailed` when it errored."""

    def call(function_name: str, event: dict[str, Any]) -> Any:
        response = clients.lambda_.invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
        body = response["Payload"].read()
        try:
            answer = json.loads(body) if body else None
        except json.JSONDecodeError:
            answer = body.decode(errors="replace")
        if response.get("FunctionError"):  # "Handled"/"Unhandled": the code ran and failed
            raise FunctionFailed(function_name, str(response["FunctionError"]), answer)
        return answer

    return call
