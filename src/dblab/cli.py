"""The ``dblab`` console command: one subcommand per module.

Each subcommand lives in its own module, which provides
``add_arguments(parser)`` and ``run(args) -> int``; this file only names
them, so ``dblab --help`` stays fast (nothing heavy is imported until a
subcommand runs).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dblab.errors import DblabError

COMMANDS = {
    "deploy": ("dblab.deploy", "本番への適用手順 (plan, rehearse, apply)"),
    "doctor": (
        "dblab.doctor",
        "環境を診断する (versions, databases, JupyterLab)",
    ),
    "bench": ("dblab.bench", "性能を測る (inserts, backfill, migrations)"),
    "lint": ("dblab.lint", "revision ファイルのアンチパターンを調べる"),
    "progress": (
        "dblab.progress",
        "演習の進捗 (完了・挑戦中・未着手) を表示する",
    ),
    "reset": ("dblab.reset", "残ったサンドボックスを削除する (--dry-run)"),
    "run-notebooks": (
        "dblab.notebooks",
        "ノートブックを最初から実行し、出力を保存する",
    ),
}


def parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; only the ``selected`` subcommand is imported."""
    top = argparse.ArgumentParser(
        prog="dblab", description="dblab — Alembic / SQLAlchemy 教材キット"
    )
    sub = top.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            module = importlib.import_module(module_name)
            module.add_arguments(command)
            command.set_defaults(run=module.run)
    return top


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``dblab``; a DblabError becomes one line on stderr."""
    argv = sys.argv[1:] if argv is None else argv
    selected = next((a for a in argv if not a.startswith("-")), None)
    args = parser(selected).parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except DblabError as error:
        from dblab import settings  # sqlalchemy is loaded by now

        shown = settings.mask(str(error))
        print(f"dblab {args.command}: {shown}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
