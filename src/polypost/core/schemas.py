"""Base pydantic models: camelCase on the wire, snake_case in Python, strict input."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel

from polypost.core.timeutil import isoformat

UtcTimestamp = Annotated[
    datetime,
    PlainSerializer(lambda value: isoformat(value), return_type=str, when_used="json"),
]


class ApiModel(BaseModel):
    """Response models: camelCase aliases, built from attributes."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class ApiInput(BaseModel):
    """Request bodies: unknown fields are an error (no mass assignment)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=False, extra="forbid", str_strip_whitespace=True
    )
