"""Deploying to a database in use loses nothing.

A writer thread commits a row into production's ``users`` every ~10 ms
for the whole deploy (bounded: at most 60 s). Whatever happens -- the
revision succeeds, fails on production, or the verification fails --
every row the writer saw committed is still there afterwards, and the
report says what happened. Before this, a failure restored the
pre-deploy dump over production and discarded the writer's rows.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from dblab import deploy, migrate, safety, targets
from dblab.checks import deploy_to_production as dp
from dblab.deploy import identity as deploy_identity

USERS = sa.table("users", sa.column("name"), sa.column("email"))


class Writer(threading.Thread):
    """Commits one user at a time until stopped (or 60 s have passed)."""

    def __init__(self, url: sa.URL) -> None:
        super().__init__(daemon=True)
        self.engine = sa.create_engine(url, poolclass=NullPool)
        self.stopped = threading.Event()
        self.committed: list[str] = []
        self.failures = 0

    def run(self) -> None:
        deadline = time.monotonic() + 60
        number = 0
        while not self.stopped.is_set() and time.monotonic() < deadline:
            number += 1
            email = f"live-{number}@example.invalid"
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        sa.insert(USERS).values(name="書き手", email=email)
                    )
            except sa.exc.DBAPIError:
                self.failures += 1  # e.g. cut off by a lock; not committed
            else:
                self.committed.append(email)
            time.sleep(0.01)

    def lost(self) -> list[str]:
        """Committed rows that are no longer in the table."""
        self.stopped.set()
        self.join(timeout=70)
        with self.engine.connect() as connection:
            present = set(
                connection.execute(
                    sa.select(USERS.c.email).where(
                        USERS.c.email.like("live-%")
                    )
                ).scalars()
            )
        self.engine.dispose()
        return [email for email in self.committed if email not in present]


@pytest.fixture
def where(server, reused_targets) -> Iterator[targets.Targets]:
    made = reused_targets(dp.make_targets, server, users=60)
    yield made
    made.close()


def only_on_staging(engine: sa.Engine) -> str | None:
    """An app check that passes on the rehearsal's copy, not on production."""
    if "production" in str(engine.url.database):
        return "本番でだけ失敗する確認 (fails on production only)"
    return None


def deploy_with_writer(where, key: str, **app: object):
    dp.add_revision(where, key)
    writer = Writer(where["production"].url)
    writer.start()
    time.sleep(0.2)
    try:
        report = deploy.deploy(
            where=where, app=dp.app(dp.metadata_with_index(), **app)
        )
    finally:
        lost = writer.lost()
    scenario = key + ("+check" if app else "")
    print(  # the figures of the closing note (pytest -s)
        f"MEASURE deploy {where.backend} {scenario}: committed "
        f"{len(writer.committed)}, lost {len(lost)}, refused writes "
        f"{writer.failures}"
    )
    assert len(writer.committed) > 20, "the writer hardly wrote"
    assert lost == [], f"{len(lost)} of {len(writer.committed)} rows lost"
    return report


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        pytest.param(
            "postgresql", marks=[pytest.mark.server, pytest.mark.stress]
        ),
        pytest.param("mysql", marks=[pytest.mark.server, pytest.mark.stress]),
    ],
)
def test_a_successful_deploy_with_a_writer(where) -> None:
    report = deploy_with_writer(where, "INDEX")
    assert report.ok, report
    assert migrate.current(where["production"]) == (dp.revision_id("INDEX"),)


@pytest.mark.stress
def test_a_failing_revision_with_a_writer(where) -> None:
    report = deploy_with_writer(where, "FAIL_IN_PRODUCTION")
    assert not report.ok and not report.restored
    assert "disk full" in report.error
    assert report.aftermath.now == (dp.HEAD,)
    assert report.aftermath.discards  # the writer's rows, counted


@pytest.mark.stress
def test_a_failing_verification_with_a_writer(where) -> None:
    report = deploy_with_writer(
        where, "INDEX", checks={"staging_only": only_on_staging}
    )
    assert not report.ok and not report.restored
    assert report.status("verify") == "failed"
    assert "本番でだけ失敗" in report.error
    found = report.aftermath
    assert found.committed == [dp.revision_id("INDEX")]
    assert found.now == (dp.revision_id("INDEX"),)


def untouched(where: targets.Targets) -> dict[str, object]:
    """The three targets' data, revision and identity rows."""
    return {
        name: (
            safety.fingerprint(where[name]),
            migrate.current(where[name]),
            targets.read_identity(where.url(name)),
        )
        for name in targets.NAMES
    }


def refused(where: targets.Targets, staging: sa.URL, match: str) -> None:
    same = targets.Targets(
        server=where.server,
        prefix=where.prefix,
        migrations=where.migrations,
        urls={"staging": staging},
    )
    dp.add_revision(same, "INDEX")
    try:
        with pytest.raises(deploy.DeployError, match=match):
            deploy.deploy(where=same, app=dp.app(dp.metadata_with_index()))
    finally:
        same.close()


def test_staging_spelled_differently_is_refused(where, monkeypatch) -> None:
    """localhost / 127.0.0.1 / an explicit port / a query string: refused
    by the server's identity, and by the identity rows where the server's
    answer is made to differ; a staging URL reaching dev: refused."""
    production = where.url("production")
    if where.backend == "sqlite":
        path = production.database
        spellings = [production.set(database=path.replace("/", "/./", 1))]
    else:
        port = 5432 if where.backend == "postgresql" else 3306
        other = "localhost" if production.host != "localhost" else "127.0.0.1"
        spellings = [
            production.set(host=other),
            production.set(port=production.port or port),
            production.update_query_dict({"connect_timeout": "7"}),
        ]
    before = untouched(where)
    assert before["production"][2].environment == "production"
    for staging in spellings:
        refused(where, staging, "同じデータベース.*サーバーの識別が同じ")
    # A server that cannot tell (a proxy renaming databases, two
    # containers with one host name): the identity row still can.
    monkeypatch.setattr(
        deploy_identity, "identity", lambda url: (secrets.token_hex(8),)
    )
    for staging in spellings:
        refused(where, staging, "同じデータベース.*同じ識別行")
    refused(where, where.url("dev"), "staging の URL .*によると dev です")
    assert untouched(where) == before
