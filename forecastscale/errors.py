"""Errors, typed by what the caller does next.

::

    ForecastscaleError
    ├── PermanentError        report and stop; retrying cannot help
    │   ├── ConfigError       the configuration file is wrong (one line per bad field)
    │   ├── UsageError        a command-line value is wrong (one line: the option and the value)
    │   ├── TraceError        a trace file is not a usable ``timestamp,value`` CSV
    │   ├── LeadTimeError     a lead-time measurement is not a sane time or count (also a ValueError)
    │   └── PolicyInputError  a pure policy function got inputs no cluster reports (also a ValueError)
    └── TemporaryError        retry later / back off (a source or API was unavailable)
        ├── NotEnoughHistory  a forecaster needs more history; fall back and retry after more data
        └── NotLeader         this replica may not write now (standby, Lease lost or plan not restored)
"""

from __future__ import annotations


class ForecastscaleError(Exception):
    """Base of every error this package raises on purpose."""


class PermanentError(ForecastscaleError):
    """Retrying the same call with the same input will fail again."""


class TemporaryError(ForecastscaleError):
    """The same call may succeed later."""


class ConfigError(PermanentError):
    """Configuration is invalid; ``problems`` holds one ``path: message`` line per bad field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid configuration\n" + "\n".join(f"  {p}" for p in problems))


class UsageError(PermanentError):
    """A command-line option's value is malformed; the message is one line naming the option and the value."""


class TraceError(PermanentError):
    """A trace file cannot be read; the message names the file and, where known, the line."""


class LeadTimeError(PermanentError, ValueError):
    """A lead-time measurement or a saved one is not a finite time, a whole bounded count or a sane lead."""


class PolicyInputError(PermanentError, ValueError):
    """A pure policy function was given inputs no cluster can report (a negative node count, a non-finite time,
    time running backwards); the message names the input and its value."""


class NotEnoughHistory(TemporaryError):
    """A forecaster was given fewer samples than it needs (more will arrive with time)."""


class NotLeader(TemporaryError):
    """A write was fenced: this replica does not hold the Lease (or has not restored the plan) right now.

    Raised by a fence immediately before a write is sent; nothing was sent. Retrying is for whoever leads.
    """
