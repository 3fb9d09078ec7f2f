"""大規模な一括更新を避ける: 小さなバッチに分け、バッチごとに commit."""

import os
import time

import sqlalchemy as sa

engine = sa.create_engine(os.environ["DATABASE_URL"])
users = sa.Table(
    "users",
    sa.MetaData(),
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("email", sa.String(120), nullable=True),
)
users.create(engine)
with engine.begin() as conn:
    conn.execute(users.insert(), [{"id": i} for i in range(1, 2_501)])

# region batches
BATCH = 1_000  # 1 回に触る行数の上限
last_id = 0
while True:
    with engine.begin() as conn:  # バッチごとに commit: ロックは短い
        ids = conn.scalars(
            sa.select(users.c.id)
            .where(users.c.id > last_id, users.c.email.is_(None))
            .order_by(users.c.id)
            .limit(BATCH)
        ).all()
        if not ids:
            break
        conn.execute(
            users.update()
            .where(users.c.id.in_(ids))
            .values(email="user-" + sa.cast(users.c.id, sa.String(20)))
        )
    print(f"{ids[0]}〜{ids[-1]} を更新")
    last_id = ids[-1]
    time.sleep(0.01)  # ほかの書き込みに順番を譲る
# endregion batches

with engine.connect() as conn:
    left = conn.scalar(
        sa.select(sa.func.count()).where(users.c.email.is_(None))
    )
print("残りの NULL:", left)
assert left == 0
engine.dispose()
