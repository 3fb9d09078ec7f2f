"""What the runbook checks of the example app (``src/app``).

The queries whose plans a rehearsal compares and the models it loads.
Notebook 09's checks module hands them to the runbook; ``dblab deploy``
takes them from here. A runbook for another application gets its own.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy import MetaData

from dblab.deploy.rehearsal import App
from dblab.safety.health import Check


def queries() -> dict[str, sa.Select]:
    """The app's queries whose plans a rehearsal compares."""
    from app.models import Address, User

    return {
        "user_by_email": sa.select(User.id, User.name).where(
            User.email == "sato.ren.1@example.com"
        ),
        "users_by_name": sa.select(User.id, User.email).where(
            User.name == "佐藤 蓮"
        ),
        "addresses_of_user": sa.select(
            Address.id, Address.email_address
        ).where(Address.user_id == 42),
    }


def models() -> tuple[type, ...]:
    """The app's mapped classes, each loaded once by a rehearsal."""
    from app.models import Address, Employee, User

    return (User, Address, Employee)


def app(
    metadata: MetaData | None = None,
    checks: Mapping[str, Check] | None = None,
) -> App:
    """The example app as the runbook sees it (``metadata``: models)."""
    return App(
        queries=queries(),
        models=models(),
        checks=dict(checks or {}),
        metadata=metadata,
    )
