"""The stack's explicit aws and aws-native providers: the stack's provider config plus the application tags.

Default tags are a provider setting, so tagging every resource once means giving the components
providers of their own. An explicit provider reads no stack configuration (only the default provider
does), so every `aws:*` / `aws-native:*` key the stack sets is forwarded here, as the default provider
would have received it; tags the stack already sets in `aws:defaultTags` are kept.
"""

from __future__ import annotations

import inspect
import json
import typing
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

# Tag keys every taggable resource carries. The investigation group's tag key boundary is APPLICATION_TAG.
APPLICATION_TAG = "Application"
STACK_TAG = "Stack"
# Two attendees' stacks may both be called "dev": their name prefixes tell them apart.
NAME_PREFIX_TAG = "NamePrefix"

# Set by this module from Settings (region) or merged with the stack's own value (defaultTags).
_NOT_FORWARDED = {"__self__", "region", "default_tags"}


def application_tags(project: str, stack: str, name_prefix: str) -> dict[str, str]:
    """The tags that mark a resource as part of this project's stack (and of which prefix's stack)."""
    return {APPLICATION_TAG: project, STACK_TAG: stack, NAME_PREFIX_TAG: name_prefix}


@dataclass(frozen=True)
class StackProviders:
    aws: aws.Provider
    aws_native: aws_native.Provider

    @property
    def options(self) -> pulumi.ResourceOptions:
        """Options for a top-level component: its children (and its invokes with `parent=`) use these providers."""
        return pulumi.ResourceOptions(providers=[self.aws, self.aws_native])


def stack_providers(region: str, tags: dict[str, str]) -> StackProviders:
    """One aws and one aws-native provider for the whole stack, in `region`, with `tags` as default tags."""
    return StackProviders(
        aws=aws.Provider(
            "aws",
            region=region,
            default_tags={"tags": _with_stack_default_tags("aws", tags)},
            **_stack_config("aws", aws.ProviderArgs),
        ),
        aws_native=aws_native.Provider(
            "aws-native",
            region=region,
            default_tags={"tags": _with_stack_default_tags("aws-native", tags)},
            **_stack_config("aws-native", aws_native.ProviderArgs),
        ),
    )


def _stack_config(namespace: str, provider_args: type) -> dict[str, Any]:
    """Every provider argument the stack configures under `namespace:`, parsed as the provider expects it."""
    config = pulumi.Config(namespace)
    forwarded: dict[str, Any] = {}
    for name, parameter in inspect.signature(provider_args.__init__).parameters.items():
        if name in _NOT_FORWARDED:
            continue
        key = _camel(name)
        raw = config.get(key)
        if raw is None:
            continue
        # Structured and non-string settings (assumeRoles, endpoints, maxRetries, ...) arrive as JSON text.
        value = raw if typing.get_args(parameter.annotation)[:1] == (str,) else json.loads(raw)
        secret = pulumi.runtime.is_config_secret(f"{namespace}:{key}")
        forwarded[name] = pulumi.Output.secret(value) if secret else value
    return forwarded


def _with_stack_default_tags(namespace: str, tags: dict[str, str]) -> dict[str, str]:
    """The stack's own `<namespace>:defaultTags` tags, with the application tags on top."""
    configured = pulumi.Config(namespace).get_object("defaultTags") or {}
    # aws-native also accepts a bare map here (its original format); aws always nests it under "tags".
    own = configured.get("tags", configured) if isinstance(configured, dict) else {}
    return {**(own or {}), **tags}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
