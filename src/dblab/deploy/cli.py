"""``dblab deploy``: the console command over :mod:`dblab.deploy.runbook`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from dblab import settings, targets
from dblab.deploy import example_app
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


def run(args: argparse.Namespace) -> int:
    where = targets.Targets(migrations=args.migrations)
    targets.check_name(args.target)
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
        to=args.to,
        app=example_app.app(),
    )
    print(report)
    if (args.sql or args.dry_run) and report.plan and report.plan.sql:
        print("\n-- オフライン SQL (review this) --")
        print(report.plan.sql)
    return 0 if report.ok else 1
