"""The sections of ``dblab bench``: every module of the sections package.

A module of :mod:`dblab.bench.sections` that defines ``SECTION`` is a
section; nothing else lists them. Adding a section is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil

from dblab.bench import sections as sections_package
from dblab.bench.section import Section


def sections() -> list[Section]:
    """Every declared section, in report order."""
    found = []
    for info in pkgutil.iter_modules(sections_package.__path__):
        module = importlib.import_module(
            f"{sections_package.__name__}.{info.name}"
        )
        section = getattr(module, "SECTION", None)
        if isinstance(section, Section):
            found.append(section)
    return sorted(found, key=lambda s: (s.order, s.name))


def by_name() -> dict[str, Section]:
    """The sections by their name (as ``--sections`` spells them)."""
    return {section.name: section for section in sections()}
