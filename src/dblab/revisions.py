"""The example app's revision chain, named by what each revision does.

Checkers, benchmarks and notebooks refer to ``revisions.AGE_ADDED``
rather than pasting the hex id; ``tests/dblab/test_revisions.py`` checks
that these names match the chain in ``migrations/versions/`` in order.
"""

from __future__ import annotations

USERS_CREATED = "fc269420a215"
AGE_ADDED = "71cc828891fc"
EMAIL_NOT_NULL = "cf30bc1d0ee8"
ADDRESSES_CREATED = "3e2e15a5d823"
EMPLOYEES_CREATED = "36bd30ad7a7f"

#: Oldest first, as ``alembic history`` lists them bottom-up.
CHAIN = (
    USERS_CREATED,
    AGE_ADDED,
    EMAIL_NOT_NULL,
    ADDRESSES_CREATED,
    EMPLOYEES_CREATED,
)
HEAD = EMPLOYEES_CREATED
