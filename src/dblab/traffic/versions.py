"""The example app in its four versions, as the capstone's traffic runs it.

The change: ``users.name`` (「佐藤 蓮」) becomes ``family_name`` and
``given_name``. Each version is a small set of queries, a read and a
write, run on one connection per request:

============  ===================  ===================================
version       reads                writes
============  ===================  ===================================
``old``       ``name``             ``name``
``dual``      ``name``             ``name`` and the two new columns
``new-read``  the new columns      ``name`` and the two new columns
``new-only``  the new columns      the two new columns only
============  ===================  ===================================

A version that reads the new columns and finds ``family_name`` NULL
cannot serve the request: that is an error of the version (a row the
backfill has not reached yet).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Connection

from dblab import seed

OLD, DUAL, NEW_READ, NEW_ONLY = "old", "dual", "new-read", "new-only"
VERSIONS = (OLD, DUAL, NEW_READ, NEW_ONLY)
READS_NAME = frozenset({OLD, DUAL})
WRITES_NAME = frozenset({OLD, DUAL, NEW_READ})
USES_NAME = READS_NAME | WRITES_NAME
WRITES_NEW = frozenset({DUAL, NEW_READ, NEW_ONLY})
READS_NEW = frozenset({NEW_READ, NEW_ONLY})

HALF, FULL = " ", "\u3000"
SHAPES = {
    # id % 10 -> how the seed's 「佐藤 蓮」 is written
    1: FULL,  # 佐藤　蓮 (a full-width space)
    2: "",  # 佐藤蓮 (no space)
    3: HALF * 3,  # 佐藤   蓮 (several spaces)
    4: FULL + HALF,  # 佐藤　 蓮 (several, mixed)
}
"""Name shapes besides the seed's half-width space, by ``id % 10``."""


def split_name(name: str) -> tuple[str, str]:
    """The split rule: ``(family_name, given_name)`` of a full name.

    Full-width spaces count as spaces; the first run of spaces separates
    the family name from the given name; leading and trailing spaces are
    dropped. No space: the whole name is the family name and the given
    name is empty (``''``, not NULL).
    """
    text = name.replace(FULL, HALF).strip()
    family, _, given = text.partition(HALF)
    return family, given.strip()


def shaped(name: str, key: int) -> str:
    """``name`` written in the shape that ``key`` (an id) stands for."""
    return name.replace(HALF, SHAPES.get(key % 10, HALF))


users = sa.Table(
    "users",
    sa.MetaData(),
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(50)),
    sa.Column("email", sa.String(120)),
    sa.Column("family_name", sa.String(50)),
    sa.Column("given_name", sa.String(50)),
)
"""Only the columns a version names are sent: the others may be gone."""


class AppError(Exception):
    """A request the version could not serve (its own check failed)."""


@dataclass
class Written:
    """What one write request stored: the row and its expected split."""

    key: int
    family: str
    given: str
    inserted: bool


@dataclass
class Version:
    """One app version's queries: which columns it reads and writes."""

    name: str

    @property
    def reads_name(self) -> bool:
        return self.name in READS_NAME

    def read(self, connection: Connection, key: int) -> None:
        """Read one user, the way this version shows a profile."""
        if self.reads_name:
            connection.execute(
                sa.select(users.c.name).where(users.c.id == key)
            ).first()
            return
        row = connection.execute(
            sa.select(users.c.family_name, users.c.given_name).where(
                users.c.id == key
            )
        ).first()
        if row is not None and row.family_name is None:
            raise AppError(
                f"id {key} の family_name が NULL です "
                "(read a row the backfill has not reached)"
            )
        if row is not None:
            connection.execute(
                sa.select(users.c.id)
                .where(users.c.family_name == row.family_name)
                .limit(5)
            ).all()

    def columns(self, name: str) -> dict[str, str]:
        """The values this version writes for a full ``name``."""
        family, given = split_name(name)
        values: dict[str, str] = {}
        if self.name in WRITES_NAME:
            values["name"] = name
        if self.name in WRITES_NEW:
            values["family_name"] = family
            values["given_name"] = given
        return values

    def write(
        self, connection: Connection, rng: random.Random, key: int, tag: str
    ) -> Written:
        """Insert a user (half of the time) or rename user ``key``."""
        person = rng.choice(seed.PEOPLE)[0]
        name = shaped(person, rng.randrange(10))
        family, given = split_name(name)
        values = self.columns(name)
        if rng.random() < 0.5:
            result = connection.execute(
                users.insert().values(
                    email=f"{tag}@traffic.example.invalid", **values
                )
            )
            (new_key,) = result.inserted_primary_key
            return Written(int(new_key), family, given, True)
        connection.execute(
            users.update().where(users.c.id == key).values(**values)
        )
        return Written(key, family, given, False)
