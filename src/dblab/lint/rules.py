"""The rule table: code → message, notebook section, dialects.

The codes follow Atlas's migration analyzers: ``DS`` destructive changes,
``MF`` changes that may fail on existing data, ``BC`` backward-incompatible
changes; ``MG`` are the kit's own (structure of a revision), ``NM`` naming,
``LK`` locks held on a table that has rows, ``RW`` changes that rewrite or
copy the table. ``LW`` is about waivers themselves.

A rule with dialects applies only to those databases; one without applies
everywhere.
"""

from __future__ import annotations

from typing import NamedTuple

POSTGRESQL = "postgresql"
MYSQL = "mysql"  # MariaDB and MySQL
SQLITE = "sqlite"
SUPPORTED = (POSTGRESQL, MYSQL, SQLITE)
"""The databases the kit runs on; a guard to any other runs nowhere here."""

DIALECT_NAMES = {
    "postgresql": POSTGRESQL,
    "postgres": POSTGRESQL,
    "mysql": MYSQL,
    "mariadb": MYSQL,
    "sqlite": SQLITE,
}

LOCKS = "08_anti_patterns「大規模な一括更新」"
REWRITES = "06_split_migrations「PostgreSQL と MariaDB では」"
SPLIT = "06_split_migrations「downgrade() でデータが失われるとき」"
RENAME = "06_split_migrations「列名の変更: expand → migrate → contract」"


class Rule(NamedTuple):
    message: str
    section: str
    dialects: tuple[str, ...] = ()


RULES: dict[str, Rule] = {
    "MG101": Rule(
        "downgrade() がありません。戻せない revision は本番で逃げ道を失います",
        SPLIT,
    ),
    "MG102": Rule(
        "downgrade() が空です (pass / NotImplementedError)。何を戻すか書くか、"
        "戻せない理由をコメントで waiver にしてください",
        SPLIT,
    ),
    "MF103": Rule(
        "NOT NULL の列を server_default なしで追加しています。既存の行がある"
        "テーブルでは失敗します",
        "05_alembic_first_steps「カラム追加のパターン」",
    ),
    "MF104": Rule(
        "NULL 可 → NOT NULL の変更の前に、既存の NULL を埋める手順 (backfill) "
        "がありません",
        "06_split_migrations「サンプル 3: NOT NULL への変更」",
    ),
    "DS102": Rule(
        "テーブルを削除しています。中のデータはすべて失われます",
        "08_anti_patterns「適切なバックアップ計画の欠如」",
    ),
    "DS103": Rule("列を削除しています。その列のデータは失われます", SPLIT),
    "BC101": Rule(
        "テーブル名を変えています。動いている古いアプリが壊れます "
        "(expand → migrate → contract にしてください)",
        RENAME,
    ),
    "BC102": Rule(
        "列名を変えています。動いている古いアプリが壊れます "
        "(expand → migrate → contract にしてください)",
        RENAME,
    ),
    "BC103": Rule(
        "同じテーブルで列の削除と追加をしています。列名の変更のつもりなら"
        "データが失われます (autogenerate は rename を drop + add と読みます)",
        "05_alembic_first_steps「autogenerate と、見えないもの」",
    ),
    "MF201": Rule(
        "WHERE のない UPDATE / DELETE です。全行を 1 つのトランザクションで"
        "変更し、長いロックになります (バッチに分けてください)",
        LOCKS,
    ),
    "MG201": Rule(
        "スキーマ変更とデータ変更が 1 つの revision に混ざっています。"
        "失敗したときの切り分けと戻し方が難しくなります",
        "08_anti_patterns「過度に複雑なマイグレーション」",
    ),
    "MG301": Rule(
        "head が複数あります。`alembic merge heads` で 1 つにまとめてください",
        "07_testing_and_versioning「ブランチとマージ」",
    ),
    "NM101": Rule(
        "テーブル名が SQL の予約語です。手書きの SQL でクォートが必要になり、"
        "PostgreSQL ではクォートしない `user` が構文エラーになります",
        "06_split_migrations「サンプル 1: テーブルの追加」",
    ),
    "LK101": Rule(
        "既存のテーブルに CONCURRENTLY なしでインデックスを作っています。"
        "作り終わるまでそのテーブルへの書き込みが止まります "
        "(postgresql_concurrently=True を autocommit_block() の中で)",
        LOCKS,
        (POSTGRESQL,),
    ),
    "LK102": Rule(
        "既存のテーブルに外部キーを足し、その場で全行を検査しています。"
        "PostgreSQL では NOT VALID で足して後から VALIDATE、MariaDB では"
        "テーブルのコピーになります",
        LOCKS,
        (POSTGRESQL, MYSQL),
    ),
    "LK103": Rule(
        "既存のテーブルに CHECK 制約を NOT VALID なしで足しています。"
        "全行の検査が終わるまで書き込みが止まります (NOT VALID → VALIDATE)",
        LOCKS,
        (POSTGRESQL,),
    ),
    "LK104": Rule(
        "既存の列を NOT NULL にしています。PostgreSQL は ACCESS EXCLUSIVE "
        "のまま全行を読み、MariaDB はテーブルを作り直します "
        "(CHECK … NOT VALID → VALIDATE → SET NOT NULL)",
        REWRITES,
        (POSTGRESQL, MYSQL),
    ),
    "RW101": Rule(
        "列の型を変えています。テーブル全体の書き直し (コピー) になり、"
        "その間ロックされます (新しい列を足して移す expand → contract に)",
        REWRITES,
        (POSTGRESQL, MYSQL),
    ),
    "RW102": Rule(
        "既存のテーブルに連番・主キーの列を足しています。全行を書き直し、"
        "その間ロックされます",
        REWRITES,
        (POSTGRESQL, MYSQL),
    ),
    "MF105": Rule(
        "CONCURRENTLY のインデックスを autocommit_block() の外で作っています。"
        "Alembic は revision をトランザクションの中で流すので、PostgreSQL では"
        "失敗します",
        LOCKS,
        (POSTGRESQL,),
    ),
    "LK301": Rule(
        "ロックを取る DDL に lock_timeout がありません。前の長いトランザク"
        "ションを待つ間、後ろの読み書きまで止まります (env.py か revision で"
        " lock_timeout / lock_wait_timeout を設定)",
        LOCKS,
        (POSTGRESQL, MYSQL),
    ),
    "LW001": Rule(
        "waiver に理由がありません。`# dblab-lint: ignore[CODE] 理由` の形に"
        "してください",
        "07_testing_and_versioning「リンター」",
    ),
}


PER_DATABASE = frozenset(code for code, r in RULES.items() if r.dialects)
"""The rules for some databases only (``LK``, ``RW``, ``MF105``):
``lint(path, disable=PER_DATABASE)`` keeps to the lecture's anti-patterns."""


def dialects_of(code: str) -> frozenset[str]:
    """The databases a rule applies to (all supported ones if unsaid)."""
    return frozenset(RULES[code].dialects or SUPPORTED)


RESERVED = {
    "user", "order", "group", "select", "table", "from", "where", "key",
    "desc", "index", "column", "check", "default", "grant", "limit",
    "primary", "references", "union", "all", "and", "or", "to", "end",
    "offset", "window", "rank", "values",
}  # fmt: skip
