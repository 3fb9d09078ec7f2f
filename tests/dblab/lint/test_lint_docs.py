"""docs/lint.md lists every rule with its databases and section, and every
option of the command."""

from __future__ import annotations

import argparse

from dblab import settings
from dblab.lint import add_arguments
from dblab.lint.rules import RULES

DOC = settings.ROOT / "docs" / "lint.md"


def test_every_rule_is_a_row_with_its_dialects_and_section() -> None:
    rows = {
        line.split("|")[1].strip(" `"): line
        for line in DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    }
    for code, rule in RULES.items():
        assert code in rows, f"docs/lint.md に {code} の行がありません"
        dialects = ", ".join(rule.dialects) if rule.dialects else "すべて"
        assert f"| {dialects} |" in rows[code], code
        assert rule.section in rows[code], code


def test_every_option_is_documented() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    text = DOC.read_text(encoding="utf-8")
    options = [
        o
        for a in parser._actions
        for o in a.option_strings
        if o.startswith("--")
    ]
    missing = [o for o in options if o != "--help" and f"`{o}" not in text]
    assert not missing
