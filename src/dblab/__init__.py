"""dblab: the helper package the course notebooks share.

Each concept has its own module (``settings``, ``sandbox``, ``schema``,
``sqllog``, ``migrate``, ``checks`` ...); import the ones a notebook uses
explicitly: ``from dblab import schema``. Only :func:`setup` and
:func:`expect_error` live here, because every notebook uses them.
"""

from __future__ import annotations

import random
import warnings

from dblab import settings
from dblab.errors import show_briefly
from dblab.expecting import expect_error

__all__ = ["expect_error", "setup"]
__version__ = "0.1.0"


def setup() -> str:
    """What the setup cell of every notebook does; returns the summary.

    SQLAlchemy's deprecation warnings become errors inside the kernel
    (pytest's filters do not reach it), a DblabError prints as one line,
    pandas prints whole tables, and random numbers repeat between runs.
    """
    from sqlalchemy.exc import SADeprecationWarning

    warnings.filterwarnings("error", category=SADeprecationWarning)
    show_briefly()
    random.seed(0)
    try:
        import pandas as pd

        pd.set_option("display.max_columns", 20)
        pd.set_option("display.width", 120)
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    backend = settings.BACKENDS[settings.database_url().get_backend_name()]
    return f"dblab {__version__} — サンドボックスのデータベース: {backend}"
