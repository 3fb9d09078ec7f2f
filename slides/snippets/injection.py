"""f-string で組み立てた SQL は注入される。バインドパラメーターなら値のまま."""

import os

from sqlalchemy import create_engine, text

engine = create_engine(os.environ["DATABASE_URL"])
with engine.begin() as conn:
    conn.execute(
        text("CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50))")
    )
    conn.execute(
        text("INSERT INTO users (id, name) VALUES (1, 'alice'), (2, 'bob')")
    )

# region attack
name = "nobody' OR '1'='1"  # フォームから来た「名前」

with engine.connect() as conn:
    # 悪い例: 入力を SQL の文字列に埋め込む
    unsafe = f"SELECT name FROM users WHERE name = '{name}'"  # noqa: S608 注入の実演
    leaked = conn.execute(text(unsafe)).scalars().all()

    # 良い例: 値はバインドパラメーターで渡す (ORM の select() も同じ)
    safe = text("SELECT name FROM users WHERE name = :name")
    found = conn.execute(safe, {"name": name}).scalars().all()

print("f-string:", leaked)  # ['alice', 'bob'] 全員が漏れる
print("バインドパラメーター:", found)  # [] そういう名前の人はいない
# endregion attack
assert sorted(leaked) == ["alice", "bob"]
assert found == []
engine.dispose()
