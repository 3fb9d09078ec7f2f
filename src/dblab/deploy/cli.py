"""``dblab deploy``: the console command over :mod:`dblab.deploy.runbook`."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from dblab import migrate, settings, targets
from dblab.deploy import example_app
from dblab.deploy.preflight import DeployError
from dblab.deploy.runbook import deploy


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        default=os.environ.get("DBLAB_TARGET") or "production",
        help="dev / staging / production (既定: DBLAB_TARGET か production)",
    )
    parser.add_argument("--to", default="heads", help="目標 (既定: heads)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="何も変更せず、計画とリハーサル (捨てるコピー上) を表示する",
    )
    parser.add_argument(
        "--rollback-to", metavar="REVISION", help="この revision に戻す"
    )
    parser.add_argument(
        "--prepare",
        action="store_true",
        help="3 つのターゲットを head で作り直し、本番にデータを入れる",
    )
    parser.add_argument(
        "--migrations",
        type=Path,
        default=settings.MIGRATIONS,
        help="migrations/ フォルダ (既定: 本キットのもの)",
    )
    parser.add_argument(
        "--sql", action="store_true", help="計画のオフライン SQL も表示する"
    )
    parser.add_argument(
        "--restore",
        metavar="BACKUP",
        type=Path,
        help="このバックアップでターゲットを上書き復元する (以後の書き込みは"
        "失われます。失う行数を表示します)",
    )


def checked_inputs(args: argparse.Namespace) -> targets.Targets:
    """The targets, after refusing bad input in one line (nothing made)."""
    targets.check_name(args.target)
    folder = Path(args.migrations)
    if not (folder / "env.py").is_file() or not (folder / "versions").is_dir():
        raise DeployError(
            f"{folder} は migrations フォルダではありません (no env.py and "
            "versions/ there; --migrations must name one)"
        )
    if args.to not in ("head", "heads"):
        scripts = migrate.script(migrate.config(script_location=folder))
        try:
            scripts.get_revisions(args.to)
        except Exception:
            raise DeployError(
                f"--to {args.to}: その revision はありません (unknown "
                "revision)。`alembic history` で ID を確かめてください"
            ) from None
    shown = os.environ.get("DBLAB_WORK_DIR") or settings.ROOT / "work"
    try:
        work = settings.work_dir() / "targets"
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=work, prefix=".probe-"):
            pass
    except OSError as error:
        raise DeployError(
            f"作業フォルダ {shown} に書き込めません "
            f"(work folder not writable: {error.strerror or error})。"
            "DBLAB_WORK_DIR で書き込める場所を指定してください"
        ) from None
    where = targets.Targets(migrations=folder)
    if where.backend != "sqlite":
        settings.check_reachable(where.server)
    return where


def run(args: argparse.Namespace) -> int:
    where = checked_inputs(args)
    if args.prepare:
        made = targets.prepare(where)
        where.close()
        print(f"ターゲットを作りました (prepared): production に {made}")
        return 0
    report = deploy(
        args.target,
        where=where,
        dry_run=args.dry_run,
        rollback_to=args.rollback_to,
        restore=args.restore,
        to=args.to,
        app=example_app.app(),
    )
    print(report)
    if (args.sql or args.dry_run) and report.plan and report.plan.sql:
        print("\n-- オフライン SQL (review this) --")
        print(report.plan.sql)
    return 0 if report.ok else 1
