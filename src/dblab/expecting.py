"""``expect_error``: a demo of a failure that fails when nothing fails.

Unlike the ``raises-exception`` cell tag, which passes even when the cell
raises nothing, ``with dblab.expect_error(IntegrityError): ...`` fails
the cell when the expected error does not happen, and prints the first
line of the message when it does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager


class ExpectedError:
    """What :func:`expect_error` caught (``.error``), for further asserts."""

    error: BaseException | None = None


@contextmanager
def expect_error(
    expected: type[BaseException] | tuple[type[BaseException], ...],
    match: str | None = None,
) -> Iterator[ExpectedError]:
    """Run a block that must fail with ``expected``; show the message.

    Unlike the ``raises-exception`` cell tag, this fails when nothing is
    raised, so a demo of a failure cannot silently stop failing.
    """
    caught = ExpectedError()
    try:
        yield caught
    except expected as error:
        caught.error = error
        text = str(getattr(error, "orig", None) or error).strip()
        first = text.splitlines()[0] if text else ""
        if match is not None and not re.search(match, text):
            raise AssertionError(
                f"想定したエラーの種類ですが、メッセージが {match!r} に"
                f"一致しません (message mismatch): {first}"
            ) from error
        print(f"想定どおりのエラー (expected error): {type(error).__name__}")
        if first:
            print(f"  {first}")
    else:
        names = (
            expected.__name__
            if isinstance(expected, type)
            else " / ".join(e.__name__ for e in expected)
        )
        raise AssertionError(
            f"{names} が起きるはずでしたが、何も起きませんでした "
            "(expected an error, none was raised)"
        )
