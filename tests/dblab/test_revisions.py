"""The named revisions are the app's chain, in order."""

from __future__ import annotations

from dblab import migrate, revisions


def test_names_match_the_chain_oldest_first():
    chain = tuple(script.revision for script in migrate.revisions())
    assert chain == revisions.CHAIN


def test_head_is_the_last_revision():
    assert migrate.heads() == (revisions.HEAD,)
    assert revisions.HEAD == revisions.CHAIN[-1]
