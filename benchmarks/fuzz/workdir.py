"""A scratch directory per process (a forked worker gets its own: the pid is part of the key)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_DIRS: dict[int, Path] = {}


def scratch() -> Path:
    """This process's scratch directory, made on first use (removed with the campaign's temporary root)."""
    pid = os.getpid()
    if pid not in _DIRS:
        _DIRS[pid] = Path(tempfile.mkdtemp(prefix=f"fuzz-{pid}-"))
    return _DIRS[pid]
