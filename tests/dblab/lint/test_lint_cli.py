"""``dblab lint``: exit codes, output formats, baseline, pyproject settings,
the help text, and what it says about the kit's own chain."""

from __future__ import annotations

import json

import pytest

from dblab import cli, lint, settings
from dblab.lint.rules import RULES

DROP = "op.drop_table('addresses')"


def test_exit_codes_clean_findings_and_unreadable(versions, capsys) -> None:
    clean = versions.add(
        "aaa000000001", "op.create_table('a', sa.Column('id', sa.Integer()))"
    )
    assert cli.main(["lint", str(clean)]) == 0
    assert "指摘はありません" in capsys.readouterr().out
    bad = versions.add("bbb000000002", DROP, down="aaa000000001")
    assert cli.main(["lint", str(bad)]) == 1
    assert "DS102" in capsys.readouterr().out
    (versions.folder / "broken.py").write_text(
        "revision = 'c'\ndef upgrade(:\n"
    )
    assert cli.main(["lint", str(versions.folder)]) == 2
    captured = capsys.readouterr()
    assert "構文エラー" in captured.err and len(captured.err.splitlines()) == 1
    assert "Traceback" not in captured.err
    assert "DS102" in captured.out  # the rest was still linted


def test_a_txt_file_is_not_a_revision(versions, capsys) -> None:
    path = versions.folder / "README.txt"
    path.write_text("revision = 'x'\n")
    assert cli.main(["lint", str(path)]) == 2
    assert "not a revision file" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["lint", "--format", "xml"])
    assert caught.value.code == 2
    assert cli.main(["lint", "--disable", "XX999"]) == 2
    assert "unknown rule" in capsys.readouterr().err


def test_json_and_github_formats(versions, capsys) -> None:
    versions.add("aaa000000001", DROP)
    assert cli.main(["lint", "--format", "json", str(versions.folder)]) == 1
    data = json.loads(capsys.readouterr().out)
    codes = [f["code"] for f in data["findings"]]
    assert "DS102" in codes and data["errors"] == []
    first = data["findings"][0]
    assert {"path", "line", "dialects", "section", "message"} <= set(first)
    assert cli.main(["lint", "--format", "github", str(versions.folder)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith("::warning file=") for line in lines)
    assert any("title=DS102::" in line for line in lines)


def test_findings_are_sorted_by_file_and_line(versions) -> None:
    versions.add(
        "bbb000000002",
        "op.drop_table('b')\nop.drop_table('c')",
        down="aaa000000001",
    )
    versions.add("aaa000000001", DROP)
    found = versions.findings()
    keys = [(f.path.name, f.line) for f in found]
    assert keys == sorted(keys) and keys[0][0] == "aaa000000001.py"


def test_a_baseline_accepts_the_history_and_reports_what_is_new(
    versions, tmp_path, capsys
) -> None:
    versions.add("aaa000000001", DROP)
    baseline = tmp_path / "lint-baseline.json"
    assert (
        cli.main(
            ["lint", str(versions.folder), "--write-baseline", str(baseline)]
        )
        == 0
    )
    assert (
        cli.main(["lint", str(versions.folder), "--baseline", str(baseline)])
        == 0
    )
    versions.add(
        "bbb000000002", "op.drop_column('users', 'age')", down="aaa000000001"
    )
    capsys.readouterr()
    assert (
        cli.main(["lint", str(versions.folder), "--baseline", str(baseline)])
        == 1
    )
    out = capsys.readouterr().out
    assert "DS103" in out and "DS102" not in out
    assert (
        cli.main(
            [
                "lint",
                str(versions.folder),
                "--baseline",
                str(tmp_path / "none.json"),
            ]
        )
        == 2
    )


def test_since_on_the_command_line(versions, capsys) -> None:
    versions.add("aaa000000001", DROP)
    versions.add("bbb000000002", "pass", down="aaa000000001", downgrade="pass")
    assert (
        cli.main(["lint", str(versions.folder), "--since", "aaa000000001"])
        == 0
    )
    assert cli.main(["lint", str(versions.folder), "--since", "zzz"]) == 2


def test_pyproject_settings(versions, tmp_path, capsys) -> None:
    path = versions.add(
        "aaa000000001", "op.create_index('ix', 'users', ['name'])\n" + DROP
    )
    assert {"LK101", "DS102", "LK301"} <= set(versions.codes())
    (tmp_path / "pyproject.toml").write_text(
        '[tool.dblab.lint]\ndisable = ["DS102"]\ndialects = ["mysql"]\n'
    )
    found = versions.findings()
    assert "DS102" not in {f.code for f in found}
    assert "LK101" not in {f.code for f in found}  # PostgreSQL only
    assert {f.dialects for f in found if f.code == "LK301"} == {("mysql",)}
    assert lint.lint(path, dialects=["postgresql"])[0].code == "LK101"
    (tmp_path / "pyproject.toml").write_text(
        '[tool.dblab.lint]\ndisable = ["NOPE"]\n'
    )
    assert cli.main(["lint", str(versions.folder)]) == 2
    assert "unknown rule" in capsys.readouterr().err


def test_pyproject_baseline(versions, tmp_path) -> None:
    versions.add("aaa000000001", DROP)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.dblab.lint]\nbaseline = "accepted.json"\n'
    )
    assert (
        cli.main(
            [
                "lint",
                str(versions.folder),
                "--write-baseline",
                str(tmp_path / "accepted.json"),
            ]
        )
        == 0
    )
    assert versions.findings() == []


def test_help_lists_every_rule_section_dialects_and_exit_codes(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["lint", "--help"])
    text = capsys.readouterr().out
    lines = text.splitlines()
    for code, rule in RULES.items():
        at = next(
            i for i, line in enumerate(lines) if line.strip().startswith(code)
        )
        assert rule.message.split("。")[0] in lines[at]
        assert rule.section in lines[at + 1]
        dialects = ", ".join(rule.dialects) if rule.dialects else "all"
        assert f"[{dialects}]" in lines[at]
    assert "0  指摘なし" in text and "2  使い方の誤り" in text


def test_the_kits_own_chain(capsys) -> None:
    """The chain is the example to copy: NOT NULL without a locked scan
    (its waiver says why), and env.py's lock timeouts credited."""
    found = lint.lint(settings.MIGRATIONS / "versions")
    assert [(f.path.name[16:28], f.code) for f in found] == []
    assert cli.main(["lint"]) == 0
    assert "指摘はありません" in capsys.readouterr().out


def test_an_internal_error_in_one_file_is_one_line_and_the_rest_is_linted(
    versions, monkeypatch, capsys
) -> None:
    from dblab.lint import checks

    versions.add("aaa000000001", DROP)
    versions.add("bbb000000002", "op.drop_table('b')", down="aaa000000001")
    real = checks.check

    def broken(revision, state, settings):
        if revision.revision == "aaa000000001":
            raise KeyError("surprise")
        return real(revision, state, settings)

    monkeypatch.setattr(checks, "check", broken)
    assert cli.main(["lint", str(versions.folder)]) == 2
    captured = capsys.readouterr()
    assert "internal error: KeyError" in captured.err
    assert len(captured.err.splitlines()) == 1
    assert "bbb000000002.py" in captured.out
