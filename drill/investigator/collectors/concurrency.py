"""The image function's reserved concurrency: 0 means Lambda throttles every invocation."""

from __future__ import annotations

from drill.investigator.collectors._base import EvidenceList, Scope
from drill.investigator.model import Evidence

SOURCE = "concurrency"


def collect(scope: Scope) -> list[Evidence]:
    name, out = scope.target.function_name, EvidenceList(SOURCE, scope)
    reserved = scope.clients.lambda_.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
    if reserved is None:
        detail = f"function {name} has no reserved concurrency (it uses the account's unreserved pool)"
    elif reserved == 0:
        detail = f"function {name} has reserved concurrency 0: Lambda throttles every invocation"
    else:
        detail = f"function {name} has reserved concurrency {reserved}"
    out.add(detail, {"function": name, "reserved": reserved})
    return out.items
