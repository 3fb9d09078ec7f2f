"""One line per thing a run left out, instead of one line per skipped test.

Loaded from the root ``conftest.py``. pytest's own skip list is off
(``-r`` in pyproject has no ``s``); this plugin folds the skipped tests
by reason and prints, for each reason, how many tests it covers and the
command or variable that includes them. A server reason (no
``DBLAB_POSTGRES_URL`` / ``DBLAB_MYSQL_URL``, or a server that does not
answer) folds into one line per server whatever the test's wording.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

# variable -> (server name, what to set to include its tests)
SERVERS = {
    "DBLAB_POSTGRES_URL": (
        "PostgreSQL",
        "DBLAB_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432"
        "/postgres uv run pytest",
    ),
    "DBLAB_MYSQL_URL": (
        "MariaDB/MySQL",
        "DBLAB_MYSQL_URL=mysql+pymysql://root@127.0.0.1:3306/test"
        " uv run pytest",
    ),
}
MAX_REASON = 160  # characters of a reason shown on its line


def skip_reason(report: pytest.TestReport) -> str:
    """The reason of a skipped test, as pytest's ``-rs`` would show it."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr)
    return re.sub(r"^Skipped: ", "", reason).strip()


def fold(reasons: list[str]) -> list[str]:
    """Summary lines: one per server left out, one per other reason."""
    servers: Counter[str] = Counter()
    others: Counter[str] = Counter()
    for reason in reasons:
        variable = next((v for v in SERVERS if v in reason), None)
        if variable:
            servers[variable] += 1
        else:
            others[reason] += 1
    lines = []
    for variable, count in servers.items():
        name, command = SERVERS[variable]
        lines.append(
            f"{name}: {count} 件のテストを省略 ({variable} が未設定か"
            f"応答なし / skipped) → 含めるには: {command}"
        )
    for reason, count in others.most_common():
        shown = reason.splitlines()[0][:MAX_REASON]
        if "node_modules" in shown and "npm ci" not in shown:
            shown += " → 含めるには: cd slides && npm ci"
        lines.append(f"{count} 件のテストを省略: {shown}")
    return lines


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if getattr(report, "when", "") in {"setup", "call"}
        and not hasattr(report, "wasxfail")
    ]
    lines = fold([skip_reason(report) for report in skipped])
    if not lines:
        return
    terminalreporter.write_sep("=", "省略したテスト (skipped)")
    for line in lines:
        terminalreporter.write_line(line)
