"""docs/ci/migrations.yml, run here: every ``run:`` line of both jobs.

The sqlite job as written, its files in a temporary work folder (a stress
test: notebook 09 runs the same commands in the suite). The postgresql
job against the loopback server (``DBLAB_POSTGRES_URL``) instead of the
service container: the job's server URL becomes that server, and the
app's database (``ci`` in the container) a sandbox database made for the
run and dropped after it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import URL, make_url

from dblab import sandbox as sandboxes
from dblab import settings
from dblab.checks import deploy_to_production as dp

WORKFLOW = dp.CI_FILE
OUTSIDE = (
    "DBLAB_DATABASE_URL",
    "DBLAB_POSTGRES_URL",
    "DBLAB_MYSQL_URL",
    "DBLAB_REQUIRE_SERVERS",
    "DATABASE_URL",
)
"""The caller's database settings: a job sees only its own."""
SELECTED = 3
"""Tests each job's pytest line selects: one head, up/down, stairway."""


def job(name: str) -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"][name]


def shown(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def run_job(name: str, work: Path, **overrides: str) -> dict[str, str]:
    """Each command after the install, as ``uv run`` would; the outputs."""
    env = {k: v for k, v in os.environ.items() if k not in OUTSIDE}
    env |= {k: str(v) for k, v in job(name).get("env", {}).items()}
    env |= {"DBLAB_WORK_DIR": str(work), **overrides}
    lines = dp.ci_commands(WORKFLOW, job=name)
    assert lines[0] == "uv sync --locked", lines
    outputs = {}
    for line in lines[1:]:
        done = subprocess.run(  # noqa: S603  (this interpreter, our file)
            dp.local_argv(line),
            cwd=settings.ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, (line, done.stdout[-3000:], done.stderr)
        outputs[line] = done.stdout
    return outputs


def pytest_output(outputs: dict[str, str]) -> str:
    (line,) = [k for k in outputs if k.startswith("uv run pytest")]
    assert "stairway_up_down_up" in line and "single_head" in line
    return outputs[line]


@pytest.mark.stress  # ~16 s; notebook 09 runs these commands in the suite
@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_job_runs_here(server, tmp_path) -> None:  # noqa: ARG001
    database = tmp_path / "ci.sqlite"
    outputs = run_job("sqlite", tmp_path, DATABASE_URL=f"sqlite:///{database}")
    assert f"{SELECTED} passed" in pytest_output(outputs)
    assert "alembic check" in " ".join(outputs)
    assert database.exists()
    assert "ドライラン完了" in list(outputs.values())[-1]


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_job_runs_on_the_loopback_server(server, tmp_path) -> None:
    written = job("postgresql")
    (service,) = written["services"].values()
    assert service["image"] == "postgres:15"
    for variable in ("DBLAB_POSTGRES_URL", "DATABASE_URL"):
        url = make_url(written["env"][variable])
        assert (url.get_backend_name(), url.host) == (
            "postgresql",
            "localhost",
        )
    with sandboxes.create("ci_app", server=server) as app_database:
        outputs = run_job(
            "postgresql",
            tmp_path,
            DBLAB_POSTGRES_URL=shown(server),
            DATABASE_URL=shown(app_database.url),
        )
        assert f"{SELECTED} passed" in pytest_output(outputs)
        tables = set(sa.inspect(app_database.engine).get_table_names())
    assert {"alembic_version", "users", "employees"} <= tables
