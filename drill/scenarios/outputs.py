"""Stack outputs the game day adds (components/drill_support.py exports them; a test proves the names equal).

Kept here until they join the drill's single output contract (drill/stack.py today).
"""

from __future__ import annotations

OPERATOR_POLICY = "DrillOperatorPolicyArn"  # the managed policy a facilitator attaches to their role
RECORD_TABLE = "DrillRecordTableName"  # the DynamoDB table holding every active scenario's prior state
STANDBY_ROLE = "DrillStandbyRoleArn"  # the permissionless role function_role_changed gives the image function
REST_API_ID = "RestApiId"
IMAGE_ROLE_ARN = "ImageFunctionRoleArn"

GAMEDAY_OUTPUTS = (OPERATOR_POLICY, RECORD_TABLE, STANDBY_ROLE)
