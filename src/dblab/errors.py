"""Errors a learner sees: one Japanese line each, with an English gloss."""

from __future__ import annotations


class DblabError(Exception):
    """Base class: the message is complete and meant to be read as is."""


class SettingsError(DblabError):
    """A database URL in the environment cannot be used."""


class ServerUnreachable(DblabError):
    """A configured database server does not answer."""


class MigrationError(DblabError):
    """Alembic refused or failed to migrate a database."""


def show_briefly(shell: object | None = None) -> None:
    """Make IPython print a DblabError as one line instead of a traceback.

    A learner who points the kit at a server that is down should read one
    sentence saying what to do, not forty lines of driver internals.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:  # plain Python: tracebacks are fine there
            return
        shell = get_ipython()
    if shell is None:
        return

    def handler(shell, etype, value, tb, tb_offset=None):  # noqa: ARG001
        print(f"{etype.__name__}: {value}")
        return None

    shell.set_custom_exc((DblabError,), handler)
