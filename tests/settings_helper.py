"""The stack's settings as the component tests build them: config.DEFAULTS, and nothing else, as defaults.

Components have no defaults of their own (each Args is made `from_settings`), so a test that wants "the
defaults" takes them from here, and one that wants another value says which setting it changes.
"""

from __future__ import annotations

import dataclasses
import re

from conftest import PROJECT, REGION, STACK

from components.config import DEFAULTS, Settings


def field_name(key: str) -> str:
    """A config key's Settings field: imageCacheTtlSeconds -> image_cache_ttl_seconds."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def default_settings(**overrides: object) -> Settings:
    """Settings from config.DEFAULTS for the project's dev stack in us-west-2; keywords replace fields."""
    values = {field_name(key): value for key, value in DEFAULTS.items()}
    fields = {f.name for f in dataclasses.fields(Settings)}
    unknown = set(values) - fields
    assert not unknown, f"config.DEFAULTS keys without a Settings field: {sorted(unknown)}"
    settings = Settings(project=PROJECT, stack=STACK, region=REGION, **values)
    return dataclasses.replace(settings, **overrides)
