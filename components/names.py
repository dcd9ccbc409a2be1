"""Every explicit physical name the stack builds from its prefix, with the limit AWS sets on it.

One table, two uses: the components build their names from it (`name(EXPLICIT_NAME, prefix)`), and
`components/config.py` validates `namePrefix` against it at preview, so a name the program builds can
never be one its validation did not see. Buckets, roles and policies are auto-named (a unique suffix
per stack) and are not here; the execution-log group is named after the REST API's id, not the prefix.

Limits and patterns, as AWS documents them and the Terraform AWS provider checks them at plan time:
- Lambda function names: at most 64 of [A-Za-z0-9_-]
  (https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html; provider
  internal/service/lambda/validate.go `functionNameRegex`).
- Log group names: at most 512 of [A-Za-z0-9_./#-]
  (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html; provider
  internal/service/logs/validate.go `validLogGroupName`).
- Alarm names: 1 to 255 characters (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
- Dashboard names: at most 255 of [A-Za-z0-9_-]
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html; provider
  internal/service/cloudwatch/validate.go `validDashboardName`).
- Parameter names: [A-Za-z0-9_.-] and "/" between levels, 1011 at most with the parameter's ARN, not
  beginning with "aws" or "ssm" (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html).
- Investigation group names: 1 to 512 of [A-Za-z0-9_-[](){}.: ]
  (https://docs.aws.amazon.com/cloudwatchinvestigations/latest/APIReference/API_ListInvestigationGroupsModel.html).
- IAM managed policy names: 1 to 128 of [A-Za-z0-9+=,.@_-]
  (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html).
- DynamoDB table names: 3 to 255 of [A-Za-z0-9_.-]
  (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html).
- REST API names: CreateRestApi documents no limit; the API's name is a dimension of its metrics
  (`ApiName`), whose values CloudWatch limits to 1024 characters
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "{prefix}"


@dataclass(frozen=True)
class NameRule:
    """What AWS accepts for one kind of name."""

    kind: str  # e.g. "Lambda function name"
    max_length: int
    pattern: str  # a full-match regular expression
    characters: str  # the allowed characters, as a message says them
    reserved_starts: tuple[str, ...] = ()  # case-insensitive beginnings AWS refuses (after a leading "/")


@dataclass(frozen=True)
class ExplicitName:
    """One physical name: a template with a single "{prefix}" and the rule it must satisfy."""

    template: str
    rule: NameRule

    def of(self, prefix: str) -> str:
        return self.template.replace(PREFIX, prefix)

    def prefix_room(self) -> int:
        """The longest prefix this name leaves room for."""
        return self.rule.max_length - len(self.template.replace(PREFIX, ""))


LAMBDA_FUNCTION = NameRule("Lambda function name", 64, r"[A-Za-z0-9_-]+", "A-Z a-z 0-9 _ -")
LOG_GROUP = NameRule("log group name", 512, r"[A-Za-z0-9_./#-]+", "A-Z a-z 0-9 _ . / # -")
ALARM = NameRule("alarm name", 255, r"[^\x00-\x1f\x7f]+", "any printable characters")
DASHBOARD = NameRule("dashboard name", 255, r"[A-Za-z0-9_-]+", "A-Z a-z 0-9 _ -")
# 1011 includes the ARN "arn:aws:ssm:<region>:<account>:parameter": 1011 less the longest such ARN (about 60).
PARAMETER = NameRule("parameter name", 950, r"[A-Za-z0-9_./-]+", "A-Z a-z 0-9 _ . - /", ("aws", "ssm"))
INVESTIGATION_GROUP = NameRule(
    "investigation group name", 512, r"[A-Za-z0-9_\-\[\](){}.: ]+", "A-Z a-z 0-9 _ - [ ] ( ) { } . : and space"
)
MANAGED_POLICY = NameRule("IAM managed policy name", 128, r"[A-Za-z0-9+=,.@_-]+", "A-Z a-z 0-9 + = , . @ _ -")
# At least 3 characters too, which every table name here has: the prefix and a suffix.
DYNAMODB_TABLE = NameRule("DynamoDB table name", 255, r"[A-Za-z0-9_.-]+", "A-Z a-z 0-9 _ . -")
REST_API = NameRule("REST API name (the ApiName metric dimension)", 1024, r"[^\x00-\x1f\x7f]+", "printable characters")

LAMBDA_LOG_GROUP_PREFIX = "/aws/lambda/"  # where Lambda writes a function's logs, unless told otherwise


def _function(suffix: str) -> ExplicitName:
    return ExplicitName(f"{PREFIX}-{suffix}", LAMBDA_FUNCTION)


IMAGE_API_FUNCTION = _function("image-api")
IMAGE_SEEDER_FUNCTION = _function("image-seeder")
FAULT_INJECTOR_FUNCTION = _function("fault-injector")
FUNCTIONS = (IMAGE_API_FUNCTION, IMAGE_SEEDER_FUNCTION, FAULT_INJECTOR_FUNCTION)

BUCKET_NAME_PARAMETER = ExplicitName(f"/{PREFIX}/bucket-name", PARAMETER)
API_ACCESS_LOG_GROUP = ExplicitName(f"/aws/apigateway/{PREFIX}-api-access", LOG_GROUP)
REST_API_NAME = ExplicitName(f"{PREFIX}-api", REST_API)
FAULT_ALARM = ExplicitName(f"{PREFIX}-lambda-trigger-alarm", ALARM)
API_5XX_ALARM = ExplicitName(f"{PREFIX}-api-5xx-alarm", ALARM)
IMAGE_API_ERRORS_ALARM = ExplicitName(f"{PREFIX}-image-api-errors-alarm", ALARM)
API_LATENCY_ALARM = ExplicitName(f"{PREFIX}-api-latency-alarm", ALARM)
# The partial-fault experiments' (fisEnabled): their log group and the two guard alarms that stop them.
FIS_LOG_GROUP = ExplicitName(f"/aws/fis/{PREFIX}", LOG_GROUP)
FIS_API_5XX_RATE_GUARD = ExplicitName(f"{PREFIX}-fis-api-5xx-rate-guard", ALARM)
FIS_ERROR_RATE_GUARD = ExplicitName(f"{PREFIX}-fis-image-api-error-rate-guard", ALARM)
DASHBOARD_NAME = ExplicitName(PREFIX, DASHBOARD)
INVESTIGATION_GROUP_NAME = ExplicitName(f"{PREFIX}-investigations", INVESTIGATION_GROUP)
# The game day's (components/drill_support.py): the operator's managed policy and the drill's record store.
DRILL_OPERATOR_POLICY = ExplicitName(f"{PREFIX}-drill-operator", MANAGED_POLICY)
DRILL_RECORD_TABLE = ExplicitName(f"{PREFIX}-drill-records", DYNAMODB_TABLE)


def function_log_group(function_name: str) -> str:
    """The log group a function writes to (PythonFunction creates it with this name)."""
    return f"{LAMBDA_LOG_GROUP_PREFIX}{function_name}"


# Every explicit name, including each function's log group. A new explicit name is added here first.
EXPLICIT_NAMES: tuple[ExplicitName, ...] = (
    *FUNCTIONS,
    *(ExplicitName(function_log_group(function.template), LOG_GROUP) for function in FUNCTIONS),
    BUCKET_NAME_PARAMETER,
    API_ACCESS_LOG_GROUP,
    REST_API_NAME,
    FAULT_ALARM,
    API_5XX_ALARM,
    IMAGE_API_ERRORS_ALARM,
    API_LATENCY_ALARM,
    FIS_LOG_GROUP,
    FIS_API_5XX_RATE_GUARD,
    FIS_ERROR_RATE_GUARD,
    DASHBOARD_NAME,
    INVESTIGATION_GROUP_NAME,
    DRILL_OPERATOR_POLICY,
    DRILL_RECORD_TABLE,
)


def name(explicit: ExplicitName, prefix: str) -> str:
    return explicit.of(prefix)


@dataclass(frozen=True)
class PrefixLimits:
    """What every name in the table allows of a prefix: the tightest length and the common characters."""

    max_length: int
    tightest: ExplicitName  # the name that leaves the least room, and so sets max_length
    characters: str  # the characters every name's pattern accepts, e.g. "A-Z a-z 0-9 _ -"


def prefix_limits(names: tuple[ExplicitName, ...] = EXPLICIT_NAMES) -> PrefixLimits:
    tightest = min(names, key=ExplicitName.prefix_room)
    printable = [chr(code) for code in range(0x20, 0x7F)]
    common = [c for c in printable if all(re.fullmatch(explicit.rule.pattern, c) for explicit in names)]
    return PrefixLimits(tightest.prefix_room(), tightest, _ranges(common))


def _ranges(characters: list[str]) -> str:
    """ "A-Z a-z 0-9 _ -" for those characters: runs of three or more are written as ranges."""
    runs: list[list[str]] = []
    for character in sorted(characters, key=lambda c: (not c.isalnum(), c.isdigit(), c.islower(), c)):
        if runs and ord(character) == ord(runs[-1][-1]) + 1 and character.isalnum():
            runs[-1].append(character)
        else:
            runs.append([character])
    return " ".join(f"{run[0]}-{run[-1]}" if len(run) >= 3 else " ".join(run) for run in runs)


def name_problem(explicit: ExplicitName, prefix: str) -> str | None:
    """Why `prefix` cannot make this name, or None when it can."""
    built = explicit.of(prefix)
    rule = explicit.rule
    if len(built) > rule.max_length:
        return f"the {rule.kind} {built!r} would be {len(built)} characters, and AWS allows {rule.max_length}"
    if not re.fullmatch(rule.pattern, built):
        return f"the {rule.kind} {built!r} may contain only {rule.characters}"
    if built.lstrip("/").lower().startswith(rule.reserved_starts):
        return f"the {rule.kind} {built!r} may not begin with {' or '.join(rule.reserved_starts)}"
    return None


def prefix_problems(prefix: str, names: tuple[ExplicitName, ...] = EXPLICIT_NAMES) -> list[str]:
    """Every reason `prefix` cannot make one of the stack's names (empty when all fit)."""
    if not prefix:
        return ["it is empty"]
    return [problem for explicit in names if (problem := name_problem(explicit, prefix))]
