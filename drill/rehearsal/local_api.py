"""A local stand-in for API Gateway's request path: `GET /<stage>/<path>` → Lambda proxy → HTTP answer.

The route is looked up in the REST API the replica created in moto (resources, method, integration), so
the local API serves what the program declared: an AWS_PROXY integration calls its function through the
runtime with the proxy event; a MOCK integration answers with its integration response's headers. Each
request puts Count, 4XXError, 5XXError and Latency (AWS/ApiGateway, ApiName and Stage) to CloudWatch,
as API Gateway does. Before a proxy call it also does what API Gateway and Lambda do with the settings the
game-day scenarios change (drill/rehearsal/gateway_checks.py): the stage's throttling (429), the function's
resource policy (500) and reserved concurrency (500 and a Lambda `Throttles` datapoint), and the function's
live role and environment (a change means a cold start under the new ones). Not modelled: authorisers,
request validation, access logs, throttling below a non-zero rate.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from drill.rehearsal import gateway_checks
from drill.rehearsal.runtime import LambdaRuntime
from drill.shared.api_event import proxy_event

FUNCTION_IN_URI = re.compile(r"/functions/arn:aws:lambda:[^:]+:\d+:function:([^/:]+)")


class LocalApi:
    """One REST API stage of the replica, served on 127.0.0.1 and a free port."""

    def __init__(self, *, api_id: str, stage: str, clients: dict[str, Any], runtime: LambdaRuntime) -> None:
        self.api_id, self.stage = api_id, stage
        self.apigateway, self.cloudwatch, self.runtime = clients["apigateway"], clients["cloudwatch"], runtime
        self.lambda_ = clients["lambda"]
        self.api_name = self.apigateway.get_rest_api(restApiId=api_id)["name"]
        self.statuses: list[int] = []  # every answer, in order: the story the API told
        self.failures: list[str] = []  # requests the local API itself could not serve
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{self.stage}{path}"

    def start(self) -> None:
        handler = make_handler(self.answer)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="rehearsal-api", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    # -- one request
    def answer(self, method: str, raw_path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        start = time.perf_counter()
        added_ms = 0.0  # a delay the FIS stand-in reported but did not sleep (runtime.InjectedFault)
        try:
            status, response_headers, body = self.route(method, raw_path.split("?", 1)[0], headers)
            added_ms = self.runtime.take_added_milliseconds()
        except Exception as err:  # API Gateway answers 500 when it cannot reach the integration
            self.failures.append(f"{method} {raw_path}: {type(err).__name__}: {err}")
            status, response_headers, body = error(500, "Internal server error")
        self.statuses.append(status)
        self.put_metrics(status, (time.perf_counter() - start) * 1000 + added_ms)
        return status, response_headers, body

    def route(self, method: str, full_path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        stage_prefix = f"/{self.stage}"
        if not full_path.startswith(stage_prefix + "/"):
            return error(403, "Missing Authentication Token")
        path = full_path[len(stage_prefix) :]
        resources = self.apigateway.get_resources(restApiId=self.api_id, limit=500)["items"]
        resource = next((r for r in resources if r["path"] == path), None)
        if resource is None or method not in (resource.get("resourceMethods") or {}):
            return error(403, "Missing Authentication Token")
        integration = self.apigateway.get_integration(
            restApiId=self.api_id, resourceId=resource["id"], httpMethod=method
        )
        if integration["type"] == "MOCK":
            answer = (integration.get("integrationResponses") or {}).get("200") or {}
            parameters = answer.get("responseParameters") or {}
            mock_headers = {k.rsplit(".", 1)[-1]: v.strip("'") for k, v in parameters.items()}
            return 200, mock_headers, b""
        match = FUNCTION_IN_URI.search(integration.get("uri") or "")
        if integration["type"] != "AWS_PROXY" or match is None:
            return error(500, "Internal server error (integration not supported by the local API)")
        refused = gateway_checks.refusal(self, method, path, match.group(1))
        if refused is not None:
            return error(*refused)
        answer = self.runtime.invoke(match.group(1), proxy_event(method, path, self.stage, path, headers))
        return proxy_response(answer)

    def put_metrics(self, status: int, latency_ms: float) -> None:
        dimensions = [{"Name": "ApiName", "Value": self.api_name}, {"Name": "Stage", "Value": self.stage}]
        now = datetime.now(UTC)

        def datum(name: str, value: float, unit: str = "Count") -> dict[str, Any]:
            return {"MetricName": name, "Dimensions": dimensions, "Timestamp": now, "Value": value, "Unit": unit}

        self.cloudwatch.put_metric_data(
            Namespace="AWS/ApiGateway",
            MetricData=[
                datum("Count", 1),
                datum("4XXError", int(400 <= status < 500)),
                datum("5XXError", int(status >= 500)),
                datum("Latency", latency_ms, "Milliseconds"),
            ],
        )


def error(status: int, message: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, f'{{"message": "{message}"}}'.encode()


def proxy_response(answer: Any) -> tuple[int, dict[str, str], bytes]:
    """API Gateway's reading of a proxy answer; anything malformed (or a function error) is a 502."""
    if not isinstance(answer, dict) or "errorType" in answer or not isinstance(answer.get("statusCode"), int):
        return error(502, "Internal server error")
    body = answer.get("body") or ""
    data = base64.b64decode(body) if answer.get("isBase64Encoded") else str(body).encode()
    return answer["statusCode"], {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}, data


def make_handler(answer: Callable[[str, str, dict[str, str]], tuple[int, dict[str, str], bytes]]) -> type:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            status, headers, body = answer(self.command, self.path, dict(self.headers.items()))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_OPTIONS = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 (http.server's names)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's signature)
            pass  # the drill reports every probe; a request log would only repeat it

    return Handler
