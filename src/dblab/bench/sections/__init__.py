"""The measurement sections of ``dblab bench``, one module each.

Each module defines ``SECTION = Section(...)`` (see
:mod:`dblab.bench.section`); :mod:`dblab.bench.registry` finds them.
"""
