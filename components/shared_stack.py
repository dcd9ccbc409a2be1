"""The shared stack: a stack of this program that owns the account-and-region-wide resources.

One investigation group per account and region, and one API Gateway CloudWatch role setting: in a workshop
the facilitator's stack (deployed without `sharedStack`) owns both, and every attendee's stack reads the
group's ARN from that stack's outputs through a `pulumi.StackReference` (which reads stacks of the backend
the user is logged in to: https://www.pulumi.com/docs/iac/concepts/stacks/#stackreferences).
"""

from __future__ import annotations

import pulumi


def shared_stack_reference(stack_name: str) -> pulumi.StackReference:
    """The reference to `stack_name` ("organization/project/stack"); preview fails if the stack does not exist."""
    return pulumi.StackReference("shared-stack", stack_name=stack_name)


def shared_investigation_group_arn(
    reference: pulumi.StackReference, output: str, stack_name: str, region: str, config_key: str
) -> pulumi.Output[str]:
    """The shared stack's investigation group ARN, its output `output` (drill/outputs.py's name, passed in by
    __main__); preview fails naming the stack and the output if it has none."""

    def checked(arn: object) -> str:
        if not isinstance(arn, str) or not arn:
            raise ValueError(
                f"config {config_key} = {stack_name!r}: that stack has no output {output}. "
                f"Deploy it first, without sharedStack and with investigationsEnabled, in {region}"
            )
        if arn.split(":")[3:4] != [region]:
            raise ValueError(
                f"config {config_key} = {stack_name!r}: its {output} {arn!r} is not in {region}, "
                "this stack's region: the shared stack must be in the same account and region"
            )
        return arn

    return reference.get_output(output).apply(checked)
