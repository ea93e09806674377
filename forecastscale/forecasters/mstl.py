"""MSTL: several seasonal periods peeled off by STL, the rest forecast by ETS or ARIMA.

The decomposition is the MSTL algorithm (Bandara et al. 2021; statsmodels' ``MSTL`` loop: two
passes over the periods, shortest first, each STL fitted on the series minus the other seasonal
components) run over statsmodels' ``STL`` directly, because

- ``statsmodels.tsa.seasonal.MSTL`` drops a period unless the series is *longer* than two of
  them, so a 14-day window at 5-min steps (4032 = 2 × 2016 samples) would silently lose the
  weekly period; STL itself accepts two whole cycles;
- its ``stl_kwargs`` are shared by every period, while the LOESS jumps should scale with each
  period's windows (R's ``stl`` defaults, ``ceil(window / 10)``). With jump 1 the weekly STL
  smooths a 3361-sample trend window at every sample: ~10 s for two weeks, against ~0.1 s.

Seasonal smoothing across cycles is local-constant (``seasonal_deg=0``): with a handful of
cycles a local line follows each cycle's noise (with two cycles it interpolates them) and
carries the last cycle's noise into every forecast.

Forecast = each seasonal component's last cycle repeated + the forecast of the deseasonalised
series (trend + remainder) by a damped-trend ETS or an ARIMA(1, 0, 1) with a constant.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, Self

import numpy as np
from statsmodels.tsa.arima.model import ARIMA
from statsmodels.tsa.arima_process import arma2ma
from statsmodels.tsa.holtwinters import ExponentialSmoothing
from statsmodels.tsa.seasonal import STL

from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters.base import check_horizon, check_quantiles, quiet_statsmodels
from forecastscale.types import FloatArray, Forecast

Remainder = Literal["ets", "arima"]

# MSTL's passes over the periods when there are several (its default; one period needs one).
_ITERATE = 2
# First residuals of the deseasonalised model, left out of the error sample: the filter is still
# settling from its initial state there.
_BURN_IN = 10
# Cap on a sample's self-weight in the seasonal smoothers, so the residual correction stays finite.
_MAX_LEVERAGE = 0.9


def _seasonal_window(i: int) -> int:
    """Cycles in the LOESS across cycles for the ``i``-th shortest period, from 0 (MSTL's 11, 15, ...)."""
    return 7 + 4 * (i + 1)


def _odd_at_least(x: float) -> int:
    n = math.ceil(x)
    return n + (n % 2 == 0)


def _stl_jumps(period: int, seasonal: int) -> dict[str, int]:
    """LOESS evaluated every ``ceil(window / 10)`` samples, linear in between (R's ``stl``).

    Windows are STL's defaults: trend ``1.5 p / (1 - 1.5 / seasonal)``, low-pass ``p + 1`` (odd).
    """
    trend = _odd_at_least(1.5 * period / (1 - 1.5 / seasonal))
    low_pass = _odd_at_least(period + 1)
    return {"trend_jump": math.ceil(trend / 10), "low_pass_jump": math.ceil(low_pass / 10)}


def _decompose(y: FloatArray, periods: Sequence[int]) -> tuple[FloatArray, FloatArray]:
    """``(seasonal, deseasonalised)``: one seasonal row per period (shortest first), and ``y`` minus them."""
    seasonal = np.zeros((len(periods), len(y)))
    deseasonalised = y.copy()
    for _ in range(_ITERATE if len(periods) > 1 else 1):
        for i, p in enumerate(periods):
            deseasonalised += seasonal[i]
            window = _seasonal_window(i)
            stl = STL(deseasonalised, period=p, seasonal=window, seasonal_deg=0, **_stl_jumps(p, window))
            seasonal[i] = stl.fit().seasonal
            deseasonalised -= seasonal[i]
    return seasonal, deseasonalised


def _self_weights(cycles: int, window: int) -> FloatArray:
    """Weight each point of a cycle-subseries gets in its own seasonal estimate (index = cycle).

    STL's local-constant tricube LOESS over ``window`` cycles, with its window placement and
    its bandwidth widening when the window is longer than the subseries.
    """
    out = np.empty(cycles)
    for i in range(cycles):  # bounded: cycles <= n / period
        if window >= cycles:
            left, right = 0, cycles - 1
            extra = (window - cycles) // 2
        else:
            left = min(max(0, i + 1 - (window + 2) // 2), cycles - window)
            right, extra = left + window - 1, 0
        h = max(i - left, right - i) + extra
        r = np.abs(np.arange(left, right + 1) - i) / max(h, 1)
        w = np.where(r <= 0.001, 1.0, np.where(r <= 0.999, (1 - r**3) ** 3, 0.0))
        out[i] = 1.0 / float(np.sum(w))
    return out


def _leverage(n: int, periods: Sequence[int]) -> tuple[FloatArray, float]:
    """``(per-sample self-weight summed over the seasonal smoothers, same for the last cycle)``."""
    per_sample = np.zeros(n)
    last = 0.0
    t = np.arange(n)
    for i, p in enumerate(periods):
        window = _seasonal_window(i)
        # Phase j's subseries holds samples j, j + p, ...: n // p or n // p + 1 cycles.
        lengths = (n - 1 - t % p) // p + 1
        for cycles in np.unique(lengths):
            mask = lengths == cycles
            per_sample[mask] = _self_weights(int(cycles), window)[t[mask] // p]
        last += float(_self_weights(n // p, window)[-1])
    return np.minimum(per_sample, _MAX_LEVERAGE), min(last, _MAX_LEVERAGE)


class Mstl:
    """Multi-seasonal STL decomposition with an ETS or ARIMA forecast of what remains.

    ``periods`` are seasonal periods in steps (288 and 2016: a day and a week at 5-min steps).
    A fit keeps the periods whose two whole cycles fit in ``y`` and needs two cycles of the
    shortest. ``remainder`` picks the model of the deseasonalised series: ``"ets"`` (additive
    damped trend) or ``"arima"`` (ARIMA(1, 0, 1) with a constant: mean-reverting).

    Quantiles are empirical quantiles of the model's k-step forecast errors, so they widen with
    the horizon as the fitted model implies (little for a stationary remainder, more for a
    level that wanders): the in-sample one-step residuals ``e`` of the deseasonalised model,
    summed as ``Σ_{j<k} ψ_j e[t - j]`` with the model's MA(∞) weights ``ψ`` (exact for these
    linear innovations models, and it keeps residual autocorrelation the model missed). Two
    corrections for the seasonal estimates, which are averages of a few cycles: the residuals
    are divided by ``sqrt(1 - w)`` (``w`` = the sample's weight in its own seasonal estimates:
    in-sample residuals are that much too small), and the error variance gains ``W σ²`` (``W``
    = the last cycle's weight: the noise the repeated cycle carries into every forecast step).
    Paths are clipped at 0.
    """

    alias = "mstl"

    def __init__(self, periods: Sequence[int], remainder: Remainder = "ets") -> None:
        chosen = sorted(set(periods))
        if not chosen or chosen[0] < 2:
            raise ValueError(f"periods must be >= 2 steps and not empty, got {list(periods)}")
        if remainder not in ("ets", "arima"):
            raise ValueError(f"remainder must be 'ets' or 'arima', got {remainder!r}")
        self.periods = tuple(chosen)
        self.remainder = remainder
        self.fitted_periods: tuple[int, ...] = ()
        self._seasonal_tail: list[FloatArray] = []
        self._result: Any = None
        self._psi: Callable[[int], FloatArray] = lambda k: np.ones(k)
        self._errors: FloatArray = np.empty(0)
        self._extra_var = 0.0

    def fit(self, y: FloatArray) -> Self:
        """Decompose ``y`` and fit the remainder model; needs two cycles of the shortest period."""
        need = 2 * self.periods[0]
        if len(y) < need:
            raise NotEnoughHistory(f"{self.alias} needs {need} samples, got {len(y)}")
        y = np.asarray(y, dtype=np.float64)
        periods = tuple(p for p in self.periods if 2 * p <= len(y))
        seasonal, deseasonalised = _decompose(y, periods)
        with quiet_statsmodels():
            result, psi = self._fit_remainder(deseasonalised)
        residuals = np.asarray(result.resid, dtype=np.float64)
        keep = np.arange(len(y)) >= min(_BURN_IN, len(y) // 2)
        keep &= np.isfinite(residuals)
        per_sample, last = _leverage(len(y), periods)
        errors = residuals[keep] / np.sqrt(1 - per_sample[keep])
        self.fitted_periods = periods
        self._seasonal_tail = [row[-p:].copy() for row, p in zip(seasonal, periods, strict=True)]
        self._result, self._psi, self._errors = result, psi, errors
        self._extra_var = last * float(np.mean(errors**2)) if errors.size else 0.0
        return self

    def _fit_remainder(self, x: FloatArray) -> tuple[Any, Callable[[int], FloatArray]]:
        """The fitted remainder model and a function of ``k`` giving its first ``k`` MA weights."""
        if self.remainder == "arima":
            result = ARIMA(x, order=(1, 0, 1), trend="c").fit()
            ar, ma = np.r_[1.0, -result.arparams], np.r_[1.0, result.maparams]
            return result, lambda k: np.asarray(arma2ma(ar, ma, lags=k), dtype=np.float64)
        result = ExponentialSmoothing(x, trend="add", damped_trend=True, initialization_method="estimated").fit()
        alpha = float(result.params["smoothing_level"])
        beta = float(result.params["smoothing_trend"])
        phi = float(result.params["damping_trend"])

        def psi(k: int) -> FloatArray:
            # Error form: l_t = l + φb + α e_t, b_t = φb + αβ e_t, so ψ_j = α (1 + β Σ_{i=1..j} φ^i).
            damped = np.cumsum(phi ** np.arange(1, k))
            return np.concatenate(([1.0], alpha * (1 + beta * damped)))

        return result, psi

    def predict(self, h: int, quantiles: Sequence[float] = ()) -> Forecast:
        """Seasonal cycles repeated plus the remainder forecast, with k-step error quantiles."""
        check_horizon(h)
        if self._result is None:
            raise RuntimeError("predict() before fit()")
        qs = check_quantiles(quantiles)
        with quiet_statsmodels():  # an information criterion on the way takes log(0) on a perfect fit
            mean = np.asarray(self._result.forecast(h), dtype=np.float64)
        for tail in self._seasonal_tail:
            mean = mean + np.resize(tail, h)
        margins = self._error_quantiles(h, qs)
        # Margins are added before clipping (a path may rise above 0 where the mean is below);
        # max(., 0) is increasing, so the paths stay ordered like the margins.
        paths = {q: np.maximum(mean + margins[:, i], 0.0) for i, q in enumerate(qs)}
        return Forecast(mean=np.maximum(mean, 0.0), quantiles=paths)

    def _error_quantiles(self, h: int, qs: list[float]) -> FloatArray:
        """``(h, len(qs))`` quantiles of the k-step errors, k = 1..h (held past half the sample)."""
        out = np.zeros((h, len(qs)))
        e = self._errors
        if e.size < 2 or not qs:
            return out
        top = min(h, e.size // 2)
        psi = self._psi(top)
        summed = e.copy()  # summed[s] = Σ_{j<k} ψ_j e[s - j], over the s where every term exists
        for k in range(1, top + 1):  # bounded: top <= h
            if k > 1:
                summed = summed[1:] + psi[k - 1] * e[: e.size - k + 1]
            var = float(np.mean(summed**2))
            scale = math.sqrt(1 + self._extra_var / var) if var > 0 else 1.0
            out[k - 1] = scale * np.quantile(summed, qs)
        out[top:] = out[top - 1]
        return out
