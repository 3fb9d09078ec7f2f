"""Request and response bodies of the example app (Pydantic models).

Requests are validated before a route runs: a body that does not fit
gets FastAPI's usual 422 answer. Responses are read from the ORM objects
(``from_attributes``), so a route can return a ``User`` as it is.
"""

from __future__ import annotations

import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# A light check (one @, a dot in the domain); the column holds 120.
Email = Annotated[
    str,
    Field(max_length=120, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Age = Annotated[int, Field(ge=0, le=150)]


class UserCreate(BaseModel):
    """Body of ``POST /users``."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=50)]
    email: Email
    age: Age | None = None


class UserUpdate(BaseModel):
    """Body of ``PATCH /users/{user_id}``: the new age (``null`` clears)."""

    model_config = ConfigDict(extra="forbid")

    age: Age | None


class AddressCreate(BaseModel):
    """Body of ``POST /users/{user_id}/addresses``."""

    model_config = ConfigDict(extra="forbid")

    email_address: Email


class AddressRead(BaseModel):
    """An address as the API returns it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email_address: str


class UserRead(BaseModel):
    """A user with their addresses; ``type`` is ``user`` or ``employee``."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str
    age: int | None
    type: str
    addresses: list[AddressRead]


class EmployeeRead(UserRead):
    """An employee: a user with a hire date."""

    hire_date: datetime.date
