"""ORM を使わない同じ処理: 標準ライブラリの sqlite3 と手書きの SQL."""

import os
import sqlite3

from sqlalchemy import make_url

# DATABASE_URL (sqlite:///path) からファイルのパスだけを取り出す
path = make_url(os.environ["DATABASE_URL"]).database

# region crud
conn = sqlite3.connect(path)
conn.execute(
    """
    CREATE TABLE IF NOT EXISTS users (
        id INTEGER PRIMARY KEY,
        name VARCHAR(50) NOT NULL,
        email VARCHAR(120)
    )
    """
)
with conn:  # with ブロックを抜けると commit
    conn.execute(
        "INSERT INTO users (name, email) VALUES (?, ?)",
        ("John Doe", "john.doe@example.com"),
    )

row = conn.execute(
    "SELECT name, email FROM users WHERE name = ?", ("John Doe",)
).fetchone()
print(f"Added user: {row[0]}, Email: {row[1]}")  # 列は番号で取り出す
conn.close()
# endregion crud
