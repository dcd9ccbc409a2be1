"""The stack's outputs: the one contract between the program (`__main__.py`) and the drill.

`__main__.py` exports every output under a name declared here, and the drill (steps, investigator,
rehearsal) reads outputs only through these names; tests/test_outputs_contract.py runs the program under
mocks and checks both. A leaf module: it imports nothing, so the program may import it without importing
the drill (imports stay one-way: components/ never import drill/).

The names of the seed's outputs are kept so its runbook keeps working. Outputs added later may be absent
from a stack deployed before them: the drill reads those with `.get()` and says what it could not check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

# The seed's outputs.
BUCKET = "S3BucketName"
IMAGE_FUNCTION = "LambdaFunctionName"
SEEDER_FUNCTION = "BedrockLambdaName"
API_ENDPOINT = "ApiEndpoint"  # full URL ending in /prod/random
API_5XX_ALARM = "ApiGateway5XXAlarmName"
FAULT_FUNCTION = "BucketPolicyLambdaName"  # the fault chain's; absent when faultInjectionEnabled=false
INVOCATIONS_ALARM = "CloudWatchAlarmName"  # the fault chain's; absent when faultInjectionEnabled=false
# Added since.
PARAMETER = "BucketNameParameter"
SEED_RESULT = "ImageSeedResult"  # the seeder's answer at deploy, as JSON text
IMAGE_ROLE = "ImageFunctionRoleArn"  # the role the stack gave the image function (the one the fault denies)
REST_API_ID = "RestApiId"
REST_API_NAME = "RestApiName"  # the ApiName dimension of the API's metrics
ERRORS_ALARM = "LambdaErrorsAlarmName"
DASHBOARD_URL = "DashboardUrl"
NAME_PREFIX = "NamePrefix"  # what every explicit physical name starts with
# The game day's (components/drill_support.py).
OPERATOR_POLICY = "DrillOperatorPolicyArn"  # the managed policy a facilitator attaches to their role
RECORD_TABLE = "DrillRecordTableName"  # the DynamoDB table holding every active scenario's prior state
STANDBY_ROLE = "DrillStandbyRoleArn"  # the permissionless role function_role_changed gives the image function
INVESTIGATION_GROUP = "InvestigationGroupArn"  # absent where the stack has no investigation group
LATENCY_ALARM = "ApiLatencyAlarmName"  # the API's p99 latency alarm (starts an investigation like the 5XX one)
# The FIS experiments (issue 20); absent when fisEnabled=false.
FIS_LATENCY_TEMPLATE = "FisLatencyExperimentTemplateId"
FIS_ERRORS_TEMPLATE = "FisErrorsExperimentTemplateId"
FIS_CONFIGURATION_LOCATION = "FisConfigurationLocation"  # the S3 ARN of the folder the extension reads

FAULT_CHAIN = (FAULT_FUNCTION, INVOCATIONS_ALARM)
INVESTIGATIONS = (INVESTIGATION_GROUP,)
FIS = (FIS_LATENCY_TEMPLATE, FIS_ERRORS_TEMPLATE, FIS_CONFIGURATION_LOCATION)
ALWAYS = (
    BUCKET,
    IMAGE_FUNCTION,
    SEEDER_FUNCTION,
    API_ENDPOINT,
    API_5XX_ALARM,
    PARAMETER,
    SEED_RESULT,
    IMAGE_ROLE,
    REST_API_ID,
    REST_API_NAME,
    ERRORS_ALARM,
    DASHBOARD_URL,
    NAME_PREFIX,
    LATENCY_ALARM,
    OPERATOR_POLICY,
    RECORD_TABLE,
    STANDBY_ROLE,
)
EXPORTS = (*ALWAYS, *FAULT_CHAIN, *INVESTIGATIONS, *FIS)  # every output the program may export


def exports(*, fault_chain: bool, investigation_group: bool, fis: bool = False) -> frozenset[str]:
    """The outputs a stack exports, given whether it has the fault chain, an investigation group and the FIS
    experiments."""
    return frozenset(
        (
            *ALWAYS,
            *(FAULT_CHAIN if fault_chain else ()),
            *(INVESTIGATIONS if investigation_group else ()),
            *(FIS if fis else ()),
        )
    )


class Outputs(Protocol):
    """What the drill reads outputs from: a dict of them, or drill.stack.StackOutputs."""

    def get(self, key: str, /) -> str | None: ...


def denied_role(outputs: Outputs, configured_role: Callable[[], str | None]) -> str | None:
    """The role the fault denies: the stack's IMAGE_ROLE output, else the image function's configured role.

    `configured_role()` (Lambda's GetFunctionConfiguration of IMAGE_FUNCTION) is called only when the
    output is absent or empty: a stack deployed before the output existed.
    """
    return outputs.get(IMAGE_ROLE) or configured_role()
