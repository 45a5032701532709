"""The built-in `example.*` handlers: something to run before writing your own."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from taskmanager.worker.handlers import Handler, PermanentError, Retry, TaskContext

MAX_SLEEP_SECONDS = 3600.0


def echo(params: dict[str, Any]) -> dict[str, Any]:
    """Answer the `message` param back (or all params when there is no message)."""
    return {"echo": params.get("message", params)}


def uppercase(params: dict[str, Any]) -> dict[str, Any]:
    """Upper-case the `text` param."""
    text = params.get("text", params.get("message"))
    if not isinstance(text, str):
        raise PermanentError("params.text must be a string")
    return {"text": text.upper()}


def add(params: dict[str, Any]) -> dict[str, Any]:
    """Add the numbers `a` and `b` (or every number of `numbers`)."""
    numbers = params["numbers"] if "numbers" in params else [params.get("a"), params.get("b")]
    if not isinstance(numbers, list) or not all(_is_number(n) for n in numbers):
        raise PermanentError("give numbers as params.a and params.b, or a list params.numbers")
    return {"sum": sum(numbers)}


async def sleep(params: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """Sleep `seconds` (default 1), reporting progress as it goes."""
    seconds = params.get("seconds", 1)
    if not _is_number(seconds) or not 0 <= seconds <= MAX_SLEEP_SECONDS:
        raise PermanentError(f"params.seconds must be a number from 0 to {MAX_SLEEP_SECONDS:g}")
    steps = max(1, min(100, math.ceil(seconds)))
    for step in range(steps):
        await asyncio.sleep(seconds / steps)
        ctx.progress(100 * (step + 1) / steps, f"slept {seconds * (step + 1) / steps:g} s")
    return {"slept_seconds": seconds}


def error(params: dict[str, Any]) -> dict[str, Any]:
    """Fail on purpose: `permanent` for a final failure, `retry_delay_seconds` for a Retry."""
    message = str(params.get("message", "example.error failed on purpose"))
    if params.get("permanent"):
        raise PermanentError(message)
    delay = params.get("retry_delay_seconds")
    if isinstance(delay, int | float) and _is_number(delay):
        raise Retry(message, delay_seconds=float(delay))
    raise RuntimeError(message)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


EXAMPLES: dict[str, Handler] = {
    "example.echo": echo,
    "example.uppercase": uppercase,
    "example.math.add": add,
    "example.sleep": sleep,
    "example.error": error,
}
