"""Fast, deterministic demo rows for the app's tables.

The seeder fills ``users``, ``addresses`` and ``employees`` with realistic
rows (Japanese names, unique e-mail addresses, ages, hire dates) at the
speed of each database's own bulk path:

- SQLite: the driver's ``executemany`` in one transaction;
- PostgreSQL (psycopg 3): ``COPY ... FROM STDIN``;
- MariaDB / MySQL (and any other driver): multi-row ``INSERT`` statements.

It inspects the table first and fills only the columns that exist, so a
notebook can seed ``users`` at any revision (at ``71cc828891fc`` the table
has ``id, name, email, age`` and ``email`` may be NULL). The same ``seed``
gives the same rows; new rows get ids after the largest existing one.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import Connection, Engine, inspect, text

from dblab import settings
from dblab.errors import DblabError

CHUNK = 10_000
"""Rows generated (and sent) at a time; part of what makes a seed repeat."""
MULTIROW = 1_000
"""Rows per multi-row INSERT statement."""
PROGRESS_FROM = 100_000
"""Row counts from which a progress bar is shown by default."""

FAMILY_NAMES = (
    ("佐藤", "sato"),
    ("鈴木", "suzuki"),
    ("高橋", "takahashi"),
    ("田中", "tanaka"),
    ("伊藤", "ito"),
    ("渡辺", "watanabe"),
    ("山本", "yamamoto"),
    ("中村", "nakamura"),
    ("小林", "kobayashi"),
    ("加藤", "kato"),
    ("吉田", "yoshida"),
    ("山田", "yamada"),
    ("佐々木", "sasaki"),
    ("山口", "yamaguchi"),
    ("松本", "matsumoto"),
    ("井上", "inoue"),
    ("木村", "kimura"),
    ("林", "hayashi"),
    ("斎藤", "saito"),
    ("清水", "shimizu"),
)
GIVEN_NAMES = (
    ("蓮", "ren"),
    ("陽翔", "haruto"),
    ("湊", "minato"),
    ("樹", "itsuki"),
    ("大和", "yamato"),
    ("悠真", "yuma"),
    ("翔太", "shota"),
    ("健一", "kenichi"),
    ("誠", "makoto"),
    ("浩", "hiroshi"),
    ("陽葵", "himari"),
    ("凛", "rin"),
    ("結菜", "yuna"),
    ("葵", "aoi"),
    ("芽依", "mei"),
    ("さくら", "sakura"),
    ("美咲", "misaki"),
    ("陽子", "yoko"),
    ("恵子", "keiko"),
    ("花子", "hanako"),
)
PEOPLE = tuple(
    (f"{family} {given}", f"{given_r}.{family_r}.")
    for family, family_r in FAMILY_NAMES
    for given, given_r in GIVEN_NAMES
)
"""(display name, e-mail prefix) for every family x given name."""
DOMAINS = ("example.com", "example.net", "example.org")
AGES = tuple(range(18, 81))
FIRST_HIRE = datetime.date(2000, 4, 1)
HIRE_DAYS = tuple(range((datetime.date(2024, 4, 1) - FIRST_HIRE).days))
USER_COLUMNS = ("id", "name", "email", "age", "type")


def user_rows(
    count: int,
    *,
    seed: int | str = 0,
    start: int = 1,
    columns: Sequence[str] = ("id", "name", "email", "age"),
    with_null_emails: float = 0.0,
    kind: str = "user",
) -> Iterator[list[tuple]]:
    """Rows of ``users`` as tuples in ``columns`` order, in chunks.

    Ids run from ``start``; e-mail addresses contain the id, so they are
    unique. ``round(count * with_null_emails)`` e-mails are NULL, spread
    over the rows. ``kind`` is the value of ``type`` (``user`` or
    ``employee``).
    """
    _check_fraction(with_null_emails)
    if count < 0:
        raise ValueError(f"count must not be negative: {count}")
    unknown = set(columns) - set(USER_COLUMNS)
    if unknown:
        raise ValueError(f"unknown users columns: {sorted(unknown)}")
    rng = random.Random(seed)  # noqa: S311 (demo data)
    nulls = round(count * with_null_emails)
    for first in range(0, count, CHUNK):
        size = min(CHUNK, count - first)
        ids = range(start + first, start + first + size)
        people = rng.choices(PEOPLE, k=size)
        ages = rng.choices(AGES, k=size)
        # Bresenham: the NULLs of each chunk add up to exactly ``nulls``.
        chunk_nulls = (first + size) * nulls // count - first * nulls // count
        values = {
            "id": ids,
            "name": [person[0] for person in people],
            "email": [
                f"{person[1]}{i}@example.com"
                for person, i in zip(people, ids, strict=True)
            ],
            "age": ages,
            "type": [kind] * size,
        }
        if chunk_nulls:
            emails = values["email"]
            for position in rng.sample(range(size), chunk_nulls):
                emails[position] = None
        yield list(zip(*(values[name] for name in columns), strict=True))


def address_rows(
    user_ids: Sequence[int], per_user: int, *, seed: int = 0, start: int = 1
) -> Iterator[list[tuple]]:
    """Rows ``(id, email_address, user_id)``: ``per_user`` per user."""
    rng = random.Random(f"{seed}:addresses")  # noqa: S311 (demo data)
    owners = (uid for uid in user_ids for _ in range(per_user))
    total = len(user_ids) * per_user
    for first in range(0, total, CHUNK):
        size = min(CHUNK, total - first)
        uids = [next(owners) for _ in range(size)]
        people = rng.choices(PEOPLE, k=size)
        domains = rng.choices(DOMAINS, k=size)
        ids = range(start + first, start + first + size)
        yield [
            (i, f"{person[1]}{uid}.{i}@{domain}", uid)
            for i, person, domain, uid in zip(
                ids, people, domains, uids, strict=True
            )
        ]


def employee_rows(
    user_ids: Sequence[int], *, seed: int = 0
) -> Iterator[list[tuple]]:
    """Rows ``(id, hire_date)`` with ISO dates from 2000-04 to 2024-03."""
    rng = random.Random(f"{seed}:employees")  # noqa: S311 (demo data)
    for first in range(0, len(user_ids), CHUNK):
        ids = user_ids[first : first + CHUNK]
        days = rng.choices(HIRE_DAYS, k=len(ids))
        yield [
            (uid, (FIRST_HIRE + datetime.timedelta(days=day)).isoformat())
            for uid, day in zip(ids, days, strict=True)
        ]


def users(
    engine: Engine,
    count: int,
    *,
    seed: int = 0,
    with_null_emails: float = 0.0,
    progress: bool | None = None,
) -> int:
    """Insert ``count`` users; return how many were inserted.

    Only the columns the table has are filled (``type`` only when it has
    no default). ``with_null_emails`` is the fraction of rows whose
    ``email`` is NULL; the column must be nullable then.
    """
    _check_fraction(with_null_emails)
    with engine.begin() as connection:
        columns = _user_columns(connection, with_null_emails, "user")
        start = _next_id(connection, "users")
        rows = user_rows(
            count,
            seed=seed,
            start=start,
            columns=columns,
            with_null_emails=with_null_emails,
        )
        _write(connection, "users", columns, rows, count, progress)
    return count


def employees(
    engine: Engine,
    count: int,
    *,
    seed: int = 0,
    progress: bool | None = None,
) -> int:
    """Insert ``count`` employees: a ``users`` row and an ``employees`` row.

    Needs the head schema (``users.type`` and the ``employees`` table).
    """
    with engine.begin() as connection:
        _require_tables(connection, ("users", "employees"))
        columns = _user_columns(connection, 0.0, "employee")
        if "type" not in columns:
            raise DblabError(
                "users に type 列がありません。employees は head まで "
                "upgrade してから入れてください (users.type is missing)"
            )
        start = _next_id(connection, "users")
        rows = user_rows(
            count,
            seed=f"{seed}:employee-users",  # not the names of the users
            start=start,
            columns=columns,
            kind="employee",
        )
        _write(connection, "users", columns, rows, count, progress)
        ids = range(start, start + count)
        _write(
            connection,
            "employees",
            ("id", "hire_date"),
            employee_rows(ids, seed=seed),
            count,
            progress,
        )
    return count


def addresses(
    engine: Engine,
    user_ids: Sequence[int],
    per_user: int,
    *,
    seed: int = 0,
    progress: bool | None = None,
) -> int:
    """Insert ``per_user`` addresses for each of ``user_ids``."""
    total = len(user_ids) * per_user
    with engine.begin() as connection:
        _require_tables(connection, ("addresses",))
        start = _next_id(connection, "addresses")
        rows = address_rows(user_ids, per_user, seed=seed, start=start)
        _write(
            connection,
            "addresses",
            ("id", "email_address", "user_id"),
            rows,
            total,
            progress,
        )
    return total


_users = users
_employees = employees


def app_data(
    engine: Engine,
    *,
    users: int = 1_000,
    addresses_per_user: int = 2,
    employees: int = 100,
    seed: int = 0,
    progress: bool | None = None,
) -> dict[str, int]:
    """Fill the head schema: users, employees, and addresses for them all.

    Returns the number of rows inserted per table (employees count in
    ``users`` too, as joined-table inheritance stores them).
    """
    first = _first_new_id(engine)
    _users(engine, users, seed=seed, progress=progress)
    if employees:
        _employees(engine, employees, seed=seed, progress=progress)
    ids = range(first, first + users + employees)
    made = addresses(
        engine, ids, addresses_per_user, seed=seed, progress=progress
    )
    return {
        "users": users + employees,
        "employees": employees,
        "addresses": made,
    }


def _check_fraction(value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise DblabError(
            f"with_null_emails は 0 から 1 の割合で指定してください "
            f"(fraction out of range: {value!r})"
        )


def _require_tables(connection: Connection, names: Iterable[str]) -> None:
    present = set(inspect(connection).get_table_names())
    missing = [name for name in names if name not in present]
    if missing:
        raise DblabError(
            f"テーブル {', '.join(missing)} がありません。先に "
            "migrate.upgrade(sandbox, 'head') を実行してください "
            "(table not found)"
        )


def _user_columns(
    connection: Connection, with_null_emails: float, kind: str
) -> tuple[str, ...]:
    """The ``users`` columns to fill, in table order."""
    _require_tables(connection, ("users",))
    chosen = []
    for column in inspect(connection).get_columns("users"):
        name = column["name"]
        required = not column["nullable"] and column.get("default") is None
        if name == "type":
            if required or kind != "user":
                chosen.append(name)
        elif name in USER_COLUMNS:
            chosen.append(name)
            if name == "email" and with_null_emails and not column["nullable"]:
                raise DblabError(
                    "この revision の users.email は NOT NULL なので、NULL "
                    "の email は入れられません (email is NOT NULL here)"
                )
        elif required:
            raise DblabError(
                f"users.{name} は NOT NULL で既定値もないため、seed では"
                f"埋められません (cannot seed column {name!r})"
            )
    return tuple(chosen)


def _next_id(connection: Connection, table: str) -> int:
    quoted = connection.dialect.identifier_preparer.quote(table)
    # The table name is a constant of this module, quoted by the dialect.
    largest = connection.execute(
        text(f"SELECT max(id) FROM {quoted}")  # noqa: S608
    ).scalar()
    return int(largest or 0) + 1


def _first_new_id(engine: Engine) -> int:
    with engine.connect() as connection:
        _require_tables(connection, ("users",))
        return _next_id(connection, "users")


def _show(progress: bool | None, total: int) -> bool:
    if progress is None:
        return total >= PROGRESS_FROM and settings.scale() != "test"
    return progress


def _write(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    chunks: Iterable[list[tuple]],
    total: int,
    progress: bool | None,
) -> None:
    """Send ``chunks`` through the backend's bulk path, in this transaction."""
    from tqdm import tqdm  # text bar: ipywidgets is not a dependency

    bar = tqdm(
        total=total,
        desc=table,
        unit="rows",
        unit_scale=True,
        disable=not _show(progress, total),
        leave=False,
    )
    preparer = connection.dialect.identifier_preparer
    target = preparer.quote(table)
    names = ", ".join(preparer.quote(name) for name in columns)
    dialect = connection.dialect
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        if dialect.name == "sqlite":
            marks = ", ".join("?" * len(columns))
            # Quoted identifiers from this module; values are bound.
            statement = f"INSERT INTO {target} ({names}) VALUES ({marks})"  # noqa: S608
            for chunk in chunks:
                cursor.executemany(statement, chunk)
                bar.update(len(chunk))
        elif dialect.name == "postgresql" and hasattr(cursor, "copy"):
            statement = f"COPY {target} ({names}) FROM STDIN"
            with cursor.copy(statement) as copy:
                for chunk in chunks:
                    for row in chunk:
                        copy.write_row(row)
                    bar.update(len(chunk))
        else:
            _write_multirow(
                cursor, dialect, target, names, columns, chunks, bar
            )
        if dialect.name == "postgresql":
            # Explicit ids do not advance the SERIAL sequence; without this
            # the next ORM insert would collide with a seeded id.
            largest = f"(SELECT max(id) FROM {target})"  # noqa: S608
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), {largest})",
                (table,),
            )
    finally:
        cursor.close()
        bar.close()


def _write_multirow(cursor, dialect, target, names, columns, chunks, bar):
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    row_marks = "(" + ", ".join([mark] * len(columns)) + ")"
    head = f"INSERT INTO {target} ({names}) VALUES "  # noqa: S608
    for chunk in chunks:
        for first in range(0, len(chunk), MULTIROW):
            part = chunk[first : first + MULTIROW]
            cursor.execute(
                head + ", ".join([row_marks] * len(part)),
                [value for row in part for value in row],
            )
        bar.update(len(chunk))
