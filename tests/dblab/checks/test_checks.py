"""dblab.checks: the Result every checker answers with."""

from __future__ import annotations

from dblab import checks


def test_result_renders_verdict_and_section() -> None:
    bad = checks.failed("足りません", "02_relationships「N+1 問題」", "詳細")
    assert "❌ 不正解" in str(bad) and "N+1 問題" in str(bad)
    assert "読み直す節" in bad._repr_markdown_()
    good = checks.passed("できました")
    assert good.ok and "✅ 正解" in str(good) and "読み直す" not in str(good)
