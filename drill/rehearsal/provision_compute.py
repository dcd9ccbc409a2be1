"""Provisioners for Lambda, CloudWatch Logs and CloudWatch resources; functions also join the runtime."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from drill.rehearsal.aws_context import Aws, Provisioner, autoname, tag_list, tags_all
from drill.rehearsal.runtime import FunctionSpec


def log_group(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = autoname(name, inputs)
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=physical, tags=tags_all(inputs))
    if inputs.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=physical, retentionInDays=int(inputs["retentionInDays"]))
    return physical, {"name": physical, "arn": aws.arn("logs", f"log-group:{physical}"), "tagsAll": tags_all(inputs)}


def code_folder(aws: Aws, code: Any) -> Path:
    """The folder of a `pulumi.FileArchive` (relative paths are relative to the project root)."""
    path = getattr(code, "path", None)
    if not path:
        raise ValueError(f"function code {code!r} is not a FileArchive of a folder")
    folder = Path(path)
    return folder if folder.is_absolute() else aws.root / folder


def zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                archive.write(file, file.relative_to(folder).as_posix())
    return buffer.getvalue()


def function(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = autoname(name, inputs)
    folder = code_folder(aws, inputs["code"])
    variables = {k: str(v) for k, v in ((inputs.get("environment") or {}).get("variables") or {}).items()}
    logging_config = inputs.get("loggingConfig") or {}
    group = logging_config.get("logGroup") or f"/aws/lambda/{physical}"
    request: dict[str, Any] = {
        "FunctionName": physical,
        "Runtime": inputs.get("runtime", "python3.13"),
        "Role": inputs["role"],
        "Handler": inputs.get("handler", "handler.handler"),
        "Code": {"ZipFile": zipped(folder)},
        "Description": inputs.get("description", ""),
        "Timeout": int(inputs.get("timeout", 3)),
        "MemorySize": int(inputs.get("memorySize", 128)),
        "Environment": {"Variables": variables},
        "Architectures": list(inputs.get("architectures") or ["x86_64"]),
        "TracingConfig": {"Mode": (inputs.get("tracingConfig") or {}).get("mode", "PassThrough")},
        "Tags": tags_all(inputs),
    }
    if logging_config:
        request["LoggingConfig"] = {
            "LogFormat": logging_config.get("logFormat", "Text"),
            "LogGroup": group,
            **({"ApplicationLogLevel": v} if (v := logging_config.get("applicationLogLevel")) else {}),
            **({"SystemLogLevel": v} if (v := logging_config.get("systemLogLevel")) else {}),
        }
    if inputs.get("layers"):
        aws.caveat(f"function {physical}: layers {inputs['layers']} are not loaded by the in-process runtime")
    created = aws.client("lambda").create_function(**request)
    arn = created["FunctionArn"]
    aws.runtime.register(
        FunctionSpec(
            name=physical,
            arn=arn,
            code_dir=folder,
            handler=request["Handler"],
            role_arn=inputs["role"],
            log_group=group,
            environment=variables,
            timeout=request["Timeout"],
            memory_size=request["MemorySize"],
        )
    )
    return physical, {
        "name": physical,
        "arn": arn,
        "qualifiedArn": f"{arn}:$LATEST",
        "invokeArn": f"arn:aws:apigateway:{aws.region}:lambda:path/2015-03-31/functions/{arn}/invocations",
        "version": "$LATEST",
        "tagsAll": request["Tags"],
    }


def permission(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    statement_id = autoname(name, inputs, "statementId")
    optional = {"SourceArn": inputs.get("sourceArn"), "SourceAccount": inputs.get("sourceAccount")}
    aws.client("lambda").add_permission(
        FunctionName=inputs["function"],
        StatementId=statement_id,
        Action=inputs["action"],
        Principal=inputs["principal"],
        **{k: v for k, v in optional.items() if v},
    )
    return statement_id, {"statementId": statement_id}


def invocation(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`aws.lambda_.Invocation` runs the function at create, synchronously; its result is an output."""
    answer = aws.runtime.invoke(inputs["functionName"], json.loads(inputs.get("input") or "{}"))
    return f"{inputs['functionName']}-{name}", {"result": json.dumps(answer)}


def event_invoke_config(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    settings = {
        "MaximumRetryAttempts": inputs.get("maximumRetryAttempts"),
        "MaximumEventAgeInSeconds": inputs.get("maximumEventAgeInSeconds"),
    }
    aws.client("lambda").put_function_event_invoke_config(
        FunctionName=inputs["functionName"], **{k: int(v) for k, v in settings.items() if v is not None}
    )
    aws.caveat("FunctionEventInvokeConfig is stored in moto; the rehearsal's alarm actions run once, without retries")
    return inputs["functionName"], {}


def metric_query(query: dict[str, Any]) -> dict[str, Any]:
    """One `metricQueries` entry as PutMetricAlarm's `Metrics` takes it: a metric with its stat, or an expression."""
    request: dict[str, Any] = {"Id": query["id"], "ReturnData": bool(query.get("returnData", False))}
    if query.get("label"):
        request["Label"] = query["label"]
    if query.get("expression"):
        request["Expression"] = query["expression"]
    metric = query.get("metric")
    if metric:
        request["MetricStat"] = {
            "Metric": {
                "Namespace": metric["namespace"],
                "MetricName": metric["metricName"],
                "Dimensions": [{"Name": k, "Value": str(v)} for k, v in (metric.get("dimensions") or {}).items()],
            },
            "Period": int(metric["period"]),
            "Stat": metric["stat"],
        }
    return request


def metric_alarm(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A single-metric alarm (Statistic or ExtendedStatistic) or a metric-math alarm (`metricQueries`), as declared:
    moto stores all three forms, and the rehearsal's evaluator (alarms.py) evaluates them."""
    physical = autoname(name, inputs)
    request: dict[str, Any] = {
        "AlarmName": physical,
        "AlarmDescription": inputs.get("alarmDescription", ""),
        "EvaluationPeriods": int(inputs["evaluationPeriods"]),
        "Threshold": float(inputs["threshold"]),
        "ComparisonOperator": inputs["comparisonOperator"],
        "TreatMissingData": inputs.get("treatMissingData", "missing"),
        "ActionsEnabled": bool(inputs.get("actionsEnabled", True)),
        "AlarmActions": list(inputs.get("alarmActions") or []),
        "OKActions": list(inputs.get("okActions") or []),
        "Tags": tag_list(tags_all(inputs)),
    }
    if inputs.get("metricQueries"):
        request["Metrics"] = [metric_query(q) for q in inputs["metricQueries"]]
    else:
        request |= {
            "Namespace": inputs["namespace"],
            "MetricName": inputs["metricName"],
            "Dimensions": [{"Name": k, "Value": str(v)} for k, v in (inputs.get("dimensions") or {}).items()],
            "Period": int(inputs["period"]),
        }
        if inputs.get("extendedStatistic"):  # a percentile: the evaluator computes it (moto ignores it)
            request["ExtendedStatistic"] = inputs["extendedStatistic"]
        else:
            request["Statistic"] = inputs.get("statistic", "Average")
    if inputs.get("datapointsToAlarm"):
        request["DatapointsToAlarm"] = int(inputs["datapointsToAlarm"])
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(**request)
    arn = cloudwatch.describe_alarms(AlarmNames=[physical])["MetricAlarms"][0]["AlarmArn"]
    return physical, {"name": physical, "arn": arn, "tagsAll": tags_all(inputs)}


def dashboard(aws: Aws, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = autoname(name, inputs, "dashboardName")
    aws.client("cloudwatch").put_dashboard(DashboardName=physical, DashboardBody=inputs["dashboardBody"])
    return physical, {
        "dashboardName": physical,
        "dashboardArn": f"arn:aws:cloudwatch::{aws.account}:dashboard/{physical}",
    }


PROVISIONERS: dict[str, Provisioner] = {
    "aws:cloudwatch/logGroup:LogGroup": log_group,
    "aws:lambda/function:Function": function,
    "aws:lambda/permission:Permission": permission,
    "aws:lambda/invocation:Invocation": invocation,
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": event_invoke_config,
    "aws:cloudwatch/metricAlarm:MetricAlarm": metric_alarm,
    "aws:cloudwatch/dashboard:Dashboard": dashboard,
}
