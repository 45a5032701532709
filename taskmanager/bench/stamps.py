"""Timestamps written by processes and read by the benchmark: 8-byte doubles in append-only files.

Each process appends to its own file with one `os.write` per event (O_APPEND keeps the records
whole), so the parent can count events by file size while they happen and read them all after.
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

RECORD = struct.Struct("<d")


class StampWriter:
    """Appends wall-clock instants to `<directory>/<kind>-<pid>.bin`."""

    def __init__(self, directory: Path, kind: str) -> None:
        path = directory / f"{kind}-{os.getpid()}.bin"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def write(self, count: int = 1) -> None:
        """Record `count` events happening now."""
        os.write(self._fd, RECORD.pack(time.time()) * count)


def count(directory: Path, kind: str) -> int:
    """How many events of `kind` all processes have recorded so far."""
    return sum(path.stat().st_size // RECORD.size for path in directory.glob(f"{kind}-*.bin"))


def read(directory: Path, kind: str) -> list[float]:
    """Every instant of `kind`, sorted."""
    found: list[float] = []
    for path in directory.glob(f"{kind}-*.bin"):
        data = path.read_bytes()
        whole = len(data) - len(data) % RECORD.size
        found.extend(value for (value,) in RECORD.iter_unpack(data[:whole]))
    return sorted(found)
