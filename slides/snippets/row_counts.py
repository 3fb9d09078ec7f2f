"""移行の前後で行数を比べる: 本番での「結果の検証」の最小形."""

import os

import sqlalchemy as sa

engine = sa.create_engine(os.environ["DATABASE_URL"])
with engine.begin() as conn:
    conn.execute(sa.text("CREATE TABLE users (id INTEGER PRIMARY KEY)"))
    conn.execute(sa.text("INSERT INTO users (id) VALUES (1), (2), (3)"))


# region counts
def row_counts(engine: sa.Engine) -> dict[str, int]:
    """テーブルごとの行数 (alembic_version は除く)."""
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        return {
            name: conn.scalar(
                sa.select(sa.func.count()).select_from(sa.table(name))
            )
            for name in names
            if name != "alembic_version"
        }


before = row_counts(engine)
with engine.begin() as conn:  # ここで alembic upgrade を実行する
    conn.execute(sa.text("ALTER TABLE users ADD COLUMN age INTEGER"))
after = row_counts(engine)
assert after == before, f"行数が変わった: {before} → {after}"
print("行数は同じ:", after)
# endregion counts
engine.dispose()
