"""``dblab lint``: arguments, output and exit codes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dblab import settings
from dblab.lint import api, output
from dblab.lint.rules import RULES, SUPPORTED

EXIT_CODES = """\
終了コード (exit codes):
  0  指摘なし (clean)
  1  指摘あり (findings)
  2  使い方の誤り・読めない入力 (usage error or unreadable input)"""


def rule_table() -> str:
    """Every rule with its dialects and the notebook section to re-read."""
    lines = ["ルール (rules):"]
    for code, rule in RULES.items():
        dialects = ", ".join(rule.dialects) if rule.dialects else "all"
        summary = rule.message.split("。")[0]
        lines.append(
            f"  {code} [{dialects}] {summary}\n        → {rule.section}"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        f"{rule_table()}\n\n{EXIT_CODES}\n\n"
        "設定 (pyproject.toml): [tool.dblab.lint] disable = [...], "
        'dialects = [...], baseline = "..."'
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="revision ファイルか versions フォルダ (既定: 本キットのもの)",
    )
    parser.add_argument(
        "--format",
        choices=output.FORMATS,
        default="text",
        help="出力の形式 (json, github = GitHub Actions の注釈)",
    )
    parser.add_argument(
        "--since",
        metavar="REV",
        help="この revision より後の revision だけを報告する",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="受け入れ済みの指摘のファイル (その分は報告しない)",
    )
    parser.add_argument(
        "--write-baseline",
        type=Path,
        metavar="FILE",
        help="今の指摘を baseline ファイルに書き、終了コード 0 で終える",
    )
    parser.add_argument(
        "--dialect",
        action="append",
        choices=sorted(SUPPORTED),
        help="対象のデータベース (くり返し可; 既定: 設定、なければ全部)",
    )
    parser.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="CODE",
        help="使わないルール (くり返し可)",
    )


def run(args: argparse.Namespace) -> int:
    paths = args.paths or [settings.MIGRATIONS / "versions"]
    report = api.check_paths(
        paths,
        dialects=args.dialect,
        disable=args.disable,
        since=args.since,
        baseline=args.baseline,
        use_baseline=args.write_baseline is None,
    )
    for error in report.errors:
        print(f"dblab lint: {error}", file=sys.stderr)
    if args.write_baseline is not None and not report.errors:
        output.write_baseline(args.write_baseline, report.findings)
        print(
            f"{len(report.findings)} 件を {args.write_baseline} に"
            "記録しました "
            "(baseline written)。"
        )
        return 0
    print(output.render(report, args.format))
    if report.errors:
        return 2
    return 1 if report.findings else 0
