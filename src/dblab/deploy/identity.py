"""Which database a URL reaches, asked of the server, not read from text.

``localhost`` and ``127.0.0.1``, an explicit default port, a query string:
the same database can be spelled many ways, so staging = production is
decided by what the server says about itself:

- PostgreSQL: ``system_identifier`` of the cluster + the database name;
- MariaDB (no server UUID): ``@@hostname``, ``@@port``, ``@@datadir`` +
  the schema;
- SQLite: the resolved file (device and inode when it exists).
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from dblab import servers, settings

QUERIES = {
    "postgresql": "SELECT system_identifier::text FROM pg_control_system()",
    "mysql": "SELECT CONCAT_WS('|', @@hostname, @@port, @@datadir)",
}


def identity(url: URL) -> tuple[str, ...]:
    """What identifies the database ``url`` reaches (see module doc)."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = Path(url.database or "").resolve()
        if path.exists():
            found = path.stat()
            return ("sqlite", f"{found.st_dev}:{found.st_ino}")
        return ("sqlite", os.path.normcase(str(path)))
    maintenance = servers.maintenance_url(url)
    engine = sa.create_engine(
        maintenance,
        poolclass=NullPool,
        connect_args=settings.connect_args(maintenance),
    )
    try:
        with engine.connect() as connection:
            server = connection.exec_driver_sql(QUERIES[backend]).scalar()
    finally:
        engine.dispose()
    return (backend, str(server), str(url.database))
