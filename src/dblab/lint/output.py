"""Findings written out: text for people, JSON and GitHub annotations for CI,
and the baseline file of findings a project has accepted."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from dblab.lint.finding import Finding, LintError, Report, shown

FORMATS = ("text", "json", "github")


def render(report: Report, form: str) -> str:
    if form == "json":
        return json.dumps(
            {
                "findings": [as_dict(f) for f in report.findings],
                "errors": report.errors,
            },
            ensure_ascii=False,
            indent=2,
        )
    if form == "github":
        lines = [
            f"::error title=dblab lint::{_escape(error)}"
            for error in report.errors
        ]
        lines += [
            f"::warning file={shown(f.path)},line={f.line},"
            f"title={f.code}::{_escape(_sentence(f))}"
            for f in report.findings
        ]
        return "\n".join(lines)
    lines = [str(f) for f in report.findings]
    if report.findings:
        lines.append(
            f"\n{len(report.findings)} 件の指摘があります (findings)。"
        )
    else:
        lines.append("指摘はありません (no findings)。")
    return "\n".join(lines)


def as_dict(finding: Finding) -> dict:
    return {
        "code": finding.code,
        "path": shown(finding.path),
        "line": finding.line,
        "detail": finding.detail,
        "dialects": list(finding.dialects),
        "message": finding.message,
        "section": finding.section,
    }


def _sentence(finding: Finding) -> str:
    dialects = f" [{', '.join(finding.dialects)}]" if finding.dialects else ""
    detail = f" ({finding.detail})" if finding.detail else ""
    return f"{finding.message}{detail}{dialects} → {finding.section}"


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def baseline_key(finding: Finding) -> tuple[str, str, str]:
    """What a baseline remembers: code, file name and detail (not lines,
    which move when a file is edited above the finding)."""
    return (finding.code, finding.path.name, finding.detail)


def read_baseline(path: Path) -> Counter:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["findings"]
        return Counter(
            (e["code"], e["file"], e.get("detail", "")) for e in entries
        )
    except FileNotFoundError:
        raise LintError(
            f"{path}: baseline ファイルがありません (baseline not found)。"
            "--write-baseline で作れます"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise LintError(
            f"{path}: baseline ファイルが読めません (unreadable baseline: "
            f"{type(error).__name__})"
        ) from None


def without_baseline(
    findings: list[Finding], baseline: Counter
) -> list[Finding]:
    """The findings the baseline does not already accept."""
    left = Counter(baseline)
    kept = []
    for finding in findings:
        name = baseline_key(finding)
        if left[name] > 0:
            left[name] -= 1
        else:
            kept.append(finding)
    return kept


def write_baseline(path: Path, findings: list[Finding]) -> None:
    entries = [
        {"code": c, "file": f, "detail": d}
        for c, f, d in sorted(baseline_key(x) for x in findings)
    ]
    path.write_text(
        json.dumps({"findings": entries}, ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8",
    )
