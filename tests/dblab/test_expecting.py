"""dblab.expect_error: a demo of a failure that cannot stop failing."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

import dblab
from dblab import expecting


def test_expect_error_passes_only_when_the_error_happens(capsys) -> None:
    with dblab.expect_error(ZeroDivisionError) as caught:
        1 / 0  # noqa: B018
    assert isinstance(caught.error, ZeroDivisionError)
    assert "想定どおりのエラー" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="何も起きませんでした"):
        with dblab.expect_error(IntegrityError):
            pass
    with pytest.raises(AssertionError, match="一致しません"):
        with dblab.expect_error(ValueError, match="UNIQUE"):
            raise ValueError("something else")
    with pytest.raises(KeyError):  # a different error is not swallowed
        with dblab.expect_error(ValueError):
            raise KeyError("x")


def test_the_package_exports_the_one_expect_error() -> None:
    assert dblab.expect_error is expecting.expect_error
