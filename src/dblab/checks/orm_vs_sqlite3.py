"""Checkers for notebook 01 (ORM vs sqlite3): select(), bound parameters,
one bulk UPDATE.

Each checker takes the learner's *function*, runs it against a freshly
prepared SQLite sandbox (:func:`prepare`) and judges what it did: the
rows it returned or left behind and the statements it sent (counted with
:mod:`dblab.sqllog`). The learner's functions use their own notebook
model mapped to the ``users`` table (``id``, ``name``, ``email``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import Base
from dblab import sandbox, sqllog
from dblab.checks import Result, checker, failed, not_done, passed

NOTEBOOK = "01_orm_vs_sqlite3"
SECTION_SELECT = f"{NOTEBOOK}「SQLAlchemy 2.x で書く (ORM あり)」"
SECTION_INJECTION = f"{NOTEBOOK}「SQL インジェクション」"
SECTION_BULK = f"{NOTEBOOK}「ORM のコストを測る」"

USERS = [
    ("Ada", "ada@example.org"),
    ("Alan", "alan@example.org"),
    ("Barbara", "barbara@example.org"),
    ("Grace", "grace@example.org"),
    ("Linus", "linus@example.org"),
    ("O'Brien", "obrien@example.org"),
]
"""The users every exercise starts with (ids 1..6, in this order)."""

ATTACKS = ("x' OR '1'='1", "nobody' OR name LIKE '%", "%")
"""Crafted names: the first two delete rows when pasted into the SQL
text, the last one when compared with LIKE instead of ``=``."""

NEW_EMAIL = "new.address@example.net"
SOLUTION_SHAPE = "UPDATE users SET email = ? WHERE name = ?"
EMAIL_ATTACK = "pwned@example.net' --"
"""Pasted into ``SET email = '...'``, the ``--`` comments out the WHERE."""

BULK_SIZE = 200

_users = sa.table(
    "users", sa.column("id"), sa.column("name"), sa.column("email")
)


def prepare() -> sandbox.Sandbox:
    """A SQLite sandbox with the app's tables and the six :data:`USERS`."""
    box = sandbox.create(
        "orm_vs_sqlite3_exercise", server=sa.URL.create("sqlite")
    )
    Base.metadata.create_all(box.engine)
    with box.engine.begin() as connection:
        connection.execute(
            sa.insert(_users),
            [
                {"id": number, "name": name, "email": email}
                for number, (name, email) in enumerate(USERS, 1)
            ],
        )
    return box


def bulk_rows(size: int = BULK_SIZE) -> list[dict[str, str]]:
    """The extra users of the bulk-update exercise."""
    return [
        {"name": f"bulk{n:03d}", "email": f"bulk{n:03d}@example.com"}
        for n in range(size)
    ]


@checker(SECTION_SELECT)
def names_starting_with(function: Callable[[Session, str], object]) -> Result:
    """Exercise 1: names beginning with a prefix, sorted, via one SELECT."""
    cases = {"A": ["Ada", "Alan"], "G": ["Grace"], "Z": []}
    box = prepare()
    try:
        for prefix, expected in cases.items():
            with Session(box.engine) as session:
                with sqllog.capture(box.engine) as log:
                    answer = function(session, prefix)
            if answer is ... or (answer is None and not log.statements):
                return not_done(SECTION_SELECT)
            verdict = _judge_names(prefix, expected, answer, log)
            if verdict is not None:
                return verdict
    finally:
        box.close()
    return passed(
        "select() で絞り込みと並べ替えをデータベースに任せられています。",
        *(f"{p!r} → {names}" for p, names in cases.items()),
    )


def _judge_names(
    prefix: str,
    expected: list[str],
    answer: object,
    log: sqllog.SQLLog,
) -> Result | None:
    section = SECTION_SELECT
    if answer is None:
        return failed(
            "関数が None を返しました。return を忘れていませんか?", section
        )
    if not isinstance(answer, list):
        return failed(
            f"戻り値が list ではありません ({type(answer).__name__})。"
            "session.scalars(...).all() で名前のリストにしてください。",
            section,
        )
    if any(not isinstance(item, str) for item in answer):
        kind = type(next(i for i in answer if not isinstance(i, str)))
        return failed(
            f"リストの中身が名前 (str) ではなく {kind.__name__} です。"
            "select(User) ではなく select(User.name) を選び、"
            "session.scalars で受け取ってください。",
            section,
        )
    if sorted(answer) != expected:
        return failed(
            f"prefix={prefix!r} の答えが {answer} でした "
            f"(正しくは {expected})。where の条件を見直してください "
            "(User.name.startswith(prefix) が使えます)。",
            section,
        )
    if answer != expected:
        return failed(
            f"prefix={prefix!r} の答え {answer} が名前順ではありません。"
            "order_by(User.name) を付けてください。",
            section,
        )
    selects = [s for s in log.statements if s.kind == "SELECT"]
    if len(selects) != 1:
        return failed(
            f"SELECT が {len(selects)} 文送られました。"
            "1 つの select() で取り出してください。",
            section,
        )
    if " WHERE " not in selects[0].sql.upper():
        return failed(
            "送られた SELECT に WHERE がありません。全員を読み込んで "
            "Python 側で絞り込むのではなく、.where(...) でデータベースに"
            "絞り込ませてください。",
            section,
        )
    if " ORDER BY " not in selects[0].sql.upper():
        return failed(
            "送られた SELECT に ORDER BY がありません。sorted() で Python "
            "側で並べ替えるのではなく、.order_by(User.name) でデータベースに"
            "並べ替えさせてください。",
            section,
        )
    return None


@checker(SECTION_INJECTION)
def change_email(
    function: Callable[[sqlite3.Connection, str, str], object],
) -> Result:
    """Exercise 2: an UPDATE that binds both the e-mail and the name.

    Crafted names must change no row; a crafted e-mail must be stored as
    it is, on that one row; ``O'Brien`` must be found. The UPDATE must
    reach SQLite with both values as parameters.
    """
    box = prepare()
    try:
        with closing(sqlite3.connect(box.url.database)) as connection:
            return _judge_update(function, RecordingConnection(connection))
    finally:
        box.close()


class RecordingConnection:
    """A ``sqlite3`` connection (or cursor) that notes every statement.

    The learner's function gets this instead of the bare connection, so
    the checker sees the SQL text and the parameters as they were sent
    (``set_trace_callback`` would show them already expanded).
    """

    def __init__(
        self,
        target: sqlite3.Connection | sqlite3.Cursor,
        sent: list[tuple[str, object]] | None = None,
    ) -> None:
        self._target = target
        self.sent: list[tuple[str, object]] = [] if sent is None else sent

    def execute(self, sql: str, parameters: object = ()) -> object:
        self.sent.append((str(sql), parameters))
        return self._wrap(self._target.execute(sql, parameters))

    def executemany(self, sql: str, rows: object) -> object:
        rows = list(rows)  # type: ignore[call-overload]
        self.sent.append((str(sql), rows))
        return self._wrap(self._target.executemany(sql, rows))

    def executescript(self, script: str) -> object:
        self.sent.append((str(script), ()))
        return self._wrap(self._target.executescript(script))

    def cursor(self) -> RecordingConnection:
        return RecordingConnection(self._target.cursor(), self.sent)

    def _wrap(self, cursor: sqlite3.Cursor) -> object:
        if isinstance(self._target, sqlite3.Cursor):
            return self
        return cursor

    def __getattr__(self, name: str) -> object:
        return getattr(self._target, name)


def _embedded(
    sent: list[tuple[str, object]], values: tuple[str, ...]
) -> Result | None:
    """A failure when the UPDATE carried one of ``values`` in its text."""
    section = SECTION_INJECTION
    updates = [(sql, p) for sql, p in sent if "UPDATE" in sql.upper()]
    for value in values:
        escaped = value.replace("'", "''")
        pasted = [sql for sql, _ in updates if escaped in sql]
        if pasted and escaped != value:
            return failed(
                "引用符を '' に置き換えて (エスケープして) から f-string で"
                "SQL に埋め込んでいます。行は守れても、値はまだ SQL の文字列"
                "の一部です (エスケープ漏れ・文字コードの抜け道が残ります)。"
                'execute("... SET email = ? WHERE name = ?", (email, name)) '
                "で値を SQL と別に渡してください。",
                section,
                f"送られた文: {pasted[0]}",
            )
        stripped = value.replace("'", "")
        pasted += [sql for sql, _ in updates if stripped in sql]
        if pasted:
            return failed(
                "UPDATE 文に値が埋め込まれています "
                "(バインドパラメーターなし)。"
                'execute("... SET email = ? WHERE name = ?", (email, name)) '
                "の形にしてください。",
                section,
                f"送られた文: {pasted[0]}",
            )
    if updates and not all(p for _, p in updates):
        return failed(
            "UPDATE 文がバインドパラメーターなしで送られました。"
            "email と name の両方を ? で渡してください。",
            section,
            f"送られた文: {updates[0][0]}",
        )
    return None


def _rows(
    connection: sqlite3.Connection | RecordingConnection,
) -> dict[str, str]:
    rows = connection.execute("SELECT name, email FROM users").fetchall()
    return dict(rows)


def _call(
    function: Callable[[sqlite3.Connection, str, str], object],
    connection: RecordingConnection,
    name: str,
    email: str,
) -> Result | None:
    """Call the learner's function once; a failure if SQLite objected."""
    connection.sent.clear()
    try:
        function(connection, name, email)  # type: ignore[arg-type]
    except sqlite3.IntegrityError:
        # users.email is unique: the UPDATE reached more than one row
        crafted = f"細工した名前 {name!r}" if name in ATTACKS else None
        why = (
            "LIKE では % が「何でも」の意味になります。名前は = で比べて"
            "ください。"
            if name == "%" and "LIKE" in str(connection.sent).upper()
            else "値が SQL の一部として解釈されています。? で渡してください。"
        )
        return failed(
            f"{crafted or f'email {email!r}'} で、複数の行の email を同じ値に"
            f"しようとしました (UNIQUE 制約で失敗)。{why}",
            SECTION_INJECTION,
        )
    except sqlite3.Error as error:
        return failed(
            f"name={name!r}, email={email!r} を渡すとエラーになりました "
            f"({type(error).__name__}: {error})。値を SQL の文字列に"
            "埋め込まず、? のプレースホルダーで渡してください。",
            SECTION_INJECTION,
        )
    return _embedded(connection.sent, (name, email))


def _judge_update(
    function: Callable[[sqlite3.Connection, str, str], object],
    connection: RecordingConnection,
) -> Result:
    section = SECTION_INJECTION
    before = _rows(connection)
    for attack in ATTACKS:
        problem = _call(function, connection, attack, NEW_EMAIL)
        changed = sorted(
            n for n, e in _rows(connection).items() if e != before[n]
        )
        if changed:
            return failed(
                f"細工した名前 {attack!r} で {len(changed)} 行の email が"
                f"変わりました ({', '.join(changed)})。名前が SQL の一部として"
                "解釈されています。WHERE name = ? で渡してください。",
                section,
            )
        if problem is not None:
            return problem
    details = [f"細工した名前 {a!r} では 1 行も変わりません" for a in ATTACKS]
    for name, email in (("Grace", EMAIL_ATTACK), ("O'Brien", NEW_EMAIL)):
        problem = _call(function, connection, name, email)
        after = _rows(connection)
        others = sorted(
            n for n in before if n != name and after[n] != before[n]
        )
        if others:
            return failed(
                f"{name!r} の email を {email!r} にしたら、"
                f"{', '.join(others)} の email まで変わりました。"
                "email も SQL の文字列に埋め込まず、? で渡してください "
                "(' -- で WHERE が注釈にされています)。",
                section,
            )
        if problem is not None:
            return problem
        if after[name] != email:
            return failed(
                f"{name!r} の email が {after[name]!r} です "
                f"({email!r} のはず)。" + SOLUTION_SHAPE + " を実行して"
                "いますか。",
                section,
            )
        before = after
        details.append(f"{name!r} の email だけが {email!r} になりました")
    return passed(
        "email も名前もバインドパラメーターで渡せています。", *details
    )


@checker(SECTION_BULK)
def bulk_update(
    function: Callable[[Session, list[dict[str, object]]], object],
) -> Result:
    """Exercise 3: the e-mails of :data:`BULK_SIZE` extra users changed by
    primary key in one UPDATE, no SELECT, committed; :data:`USERS` kept."""
    section = SECTION_BULK
    box = prepare()
    try:
        with box.engine.begin() as connection:
            connection.execute(sa.insert(_users), bulk_rows())
        changes = email_changes(box)
        before = _emails(box)
        with Session(box.engine) as session:
            with sqllog.capture(box.engine) as log:
                function(session, [dict(change) for change in changes])
        after = _emails(box)
    finally:
        box.close()
    if not log.statements and after == before:
        return not_done(section)
    return _judge_update_rows(changes, before, after, log)


def email_changes(box: sandbox.Sandbox) -> list[dict[str, object]]:
    """The bulk users' ids with their new e-mail addresses."""
    with box.engine.connect() as connection:
        rows = connection.execute(
            sa.select(_users.c.id, _users.c.name).where(
                _users.c.name.like("bulk%")
            )
        ).all()
    return [{"id": r.id, "email": f"{r.name}@new.example.net"} for r in rows]


def _emails(box: sandbox.Sandbox) -> dict[int, str]:
    with box.engine.connect() as connection:
        query = sa.select(_users.c.id, _users.c.email)
        return {row.id: row.email for row in connection.execute(query)}


def _judge_update_rows(
    changes: list[dict[str, object]],
    before: dict[int, str],
    after: dict[int, str],
    log: sqllog.SQLLog,
) -> Result:
    section = SECTION_BULK
    updates, selects = log.count("UPDATE"), log.count("SELECT")
    if updates == 0:
        return failed(
            "UPDATE が 1 文も送られていません。"
            "session.execute(update(User), changes) を実行してください。",
            section,
        )
    if selects:
        return failed(
            f"SELECT が {selects} 文送られました。利用者をオブジェクトとして"
            "読み込んで (session.get など) 属性を書き換えると、その分の "
            "SELECT と記帳が要ります。主キー入りの dict のリストを "
            "session.execute(update(User), changes) に渡せば読み込みは"
            "要りません。",
            section,
        )
    if updates > 1:
        return failed(
            f"{len(changes)} 人の変更に UPDATE が {updates} 文送られました。"
            "1 人ずつ update(...).where(...) を実行するのではなく、"
            "changes をまとめて session.execute(update(User), changes) に"
            "渡すと executemany の 1 文になります。",
            section,
        )
    if after == before:
        return failed(
            "UPDATE は送られましたが、データベースの email が変わって"
            "いません。最後に session.commit() を呼んでいますか?",
            section,
        )
    wanted = {change["id"]: change["email"] for change in changes}
    wrong = [k for k, email in wanted.items() if after.get(k) != email]
    others = [k for k in before if k not in wanted and after[k] != before[k]]
    if wrong or others:
        return failed(
            f"email が正しくない利用者が {len(wrong)} 人、変えてはいけない"
            f"利用者で変わった人が {len(others)} 人います。受け取った changes "
            "をそのまま渡してください (WHERE は主キー id から作られます)。",
            section,
        )
    return passed(
        f"{len(changes)} 人の email を UPDATE 1 文 (executemany) で"
        "変えられました。SELECT はありません。",
        log.lines(parameters=False, limit=3)[0].strip(),
    )
