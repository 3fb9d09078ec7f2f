"""The ``alembic`` command line, run in this process.

A notebook that teaches the commands runs the real ones: the same argv
a terminal would pass goes to Alembic's own command line
(``alembic.config.CommandLine``, what the ``alembic`` program runs). Running it
in the kernel instead of a new process saves the ~1.5 s that starting
Python and importing SQLAlchemy, Alembic and the app cost per command.

``run`` gives what a subprocess would: the exit code, stdout and stderr
(``env.py`` sets up logging from ``alembic.ini`` on every run, so its
"Running upgrade ..." lines go to the captured stderr); afterwards the
loggers are put back as they were and the environment variables too.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from alembic.config import CommandLine, Config

LOGGERS = ("", "alembic", "sqlalchemy")
"""The loggers ``alembic.ini``'s logging sections configure."""


class _CommandLine(CommandLine):
    """Alembic's command line, printing into ``stdout``.

    ``Config`` binds its ``stdout`` to the ``sys.stdout`` of import time,
    so a redirection alone would miss what ``current`` or ``heads`` print.
    """

    def __init__(self, stdout: io.StringIO) -> None:
        super().__init__(prog="alembic")
        self.stdout = stdout

    def run_cmd(self, config: Config, options) -> None:
        config.stdout = self.stdout
        super().run_cmd(config, options)


@dataclass(frozen=True)
class Completed:
    """What a finished ``alembic`` command left, like a subprocess's."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stderr then stdout, as a terminal would show them."""
        return (self.stderr + self.stdout).strip()


@contextlib.contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, for None, remove) variables for a block, then restore."""
    saved = {key: os.environ.get(key) for key in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(
    *args: str,
    cwd: Path | str,
    env: Mapping[str, str | None] | None = None,
) -> Completed:
    """``alembic ARGS`` in ``cwd`` (where ``alembic.ini`` is), in-process.

    ``env`` sets or removes environment variables for the command only.
    A failing command (``FAILED: ...``, exit 255) is returned, not raised.
    """
    out, err = io.StringIO(), io.StringIO()
    kept = [
        (log, log.level, log.handlers[:], log.propagate, log.disabled)
        for log in map(logging.getLogger, LOGGERS)
    ]
    code = 0
    with (
        environment(**(env or {})),
        contextlib.chdir(cwd),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            _CommandLine(out).main(argv=list(args))
        except SystemExit as stop:  # util.err: "FAILED: ...", exit(-1)
            code = stop.code if isinstance(stop.code, int) else 1
            code &= 0xFF  # as a process would report it: -1 -> 255
        finally:
            for log, level, handlers, propagate, disabled in kept:
                log.setLevel(level)
                log.handlers[:] = handlers
                log.propagate = propagate
                log.disabled = disabled
    return Completed(tuple(args), code, out.getvalue(), err.getvalue())
