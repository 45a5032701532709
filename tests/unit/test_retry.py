"""`Retry`: a handler asks for another attempt, with a reason, a delay, or both."""

from __future__ import annotations

import pytest

from taskmanager import Retry


@pytest.mark.parametrize(
    ("retry", "message", "delay"),
    [
        (Retry(), "retry requested", None),
        (Retry(30), "retry requested", 30),
        (Retry(2.5), "retry requested", 2.5),
        (Retry(delay_seconds=30), "retry requested", 30),
        (Retry("rate limited"), "rate limited", None),
        (Retry("rate limited", 30), "rate limited", 30),
        (Retry("rate limited", delay_seconds=30), "rate limited", 30),
    ],
)
def test_a_number_first_is_the_delay(retry: Retry, message: str, delay: float | None) -> None:
    assert (str(retry), retry.delay_seconds) == (message, delay)


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((30, 60), {}, TypeError),
        ((30,), {"delay_seconds": 60}, TypeError),
        ((-1,), {}, ValueError),
        (("why",), {"delay_seconds": float("nan")}, ValueError),
        ((True,), {}, TypeError),
    ],
)
def test_ambiguous_or_impossible_delays_are_refused(
    args: tuple[object, ...], kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        Retry(*args, **kwargs)  # type: ignore[arg-type]
