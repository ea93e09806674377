"""The base of every config model: unknown fields are errors, values are frozen once validated, and every
number is finite and of a sane size.

Bounds every model inherits (a field's own ``gt``/``le`` narrow them further):

* floats are finite (``inf``/``nan`` refused: ``workload.capacity_per_replica: .inf`` decided 1 replica);
* a float is 0 or of magnitude :data:`MIN_MAGNITUDE` … :data:`MAX_MAGNITUDE` (``5e-324`` as a capacity makes
  ``demand / capacity`` infinite, and ``1e308`` overflows the first product it enters);
* an int is within ±:data:`MAX_INT` (Kubernetes counts are int32);
* a duration (a field named ``…_s``, seconds; not a rate ``…_per_s``) is at most :data:`MAX_DURATION_S`:
  history buffers are sized from them, so ``window_s: 1e12`` would allocate terabytes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

MAX_INT = 2**31 - 1  # Kubernetes replicas, node counts and priorities are int32
MAX_MAGNITUDE = 1e12  # larger than any count, rate, price or size a config holds
MIN_MAGNITUDE = 1e-9  # smaller than any real non-zero quantity a config holds
MAX_DURATION_S = 2 * 366 * 86400  # two years: longer than any window, season, timeout or startup


def sane_number(field: str, value: Any) -> Any:
    """``value`` unchanged if it is not a number or is a sane one; ValueError (units in the message) if not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise ValueError(f"must be within ±{MAX_INT} (int32)")
    if isinstance(value, float) and value != 0 and not MIN_MAGNITUDE <= abs(value) <= MAX_MAGNITUDE:
        raise ValueError(f"must be 0 or of magnitude {MIN_MAGNITUDE:g} to {MAX_MAGNITUDE:g}")
    if field.endswith("_s") and not field.endswith("_per_s") and value > MAX_DURATION_S:
        raise ValueError(f"must be at most {MAX_DURATION_S} s (two years)")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _sane_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        return sane_number(info.field_name or "", value)
