"""A target's ``forecast:`` section: which forecaster the predictive policy fits, on what history, and which
upper quantile of its forecast is provisioned for (seconds throughout)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from forecastscale.config.base import _Model

ModelName = Literal["seasonal_naive", "holt_winters", "mstl", "sarimax", "gbm", "ensemble", "auto"]


class ForecastSettings(_Model):
    """How the predictive policy forecasts demand."""

    model: ModelName = Field(default="holt_winters", description="a forecaster, or auto (chosen per target)")
    quantile: float = Field(default=0.9, gt=0, lt=1, description="upper quantile provisioned for")
    target_utilisation: float | None = Field(
        default=None, gt=0, le=1, description="predictive: demand / capacity its forecast and HPA floor are sized "
        "at, (0, 1]; default: scaling.target_utilisation. Its own knob, so tuning it never moves the reactive HPA",
    )
    refit_interval_s: float = Field(default=3600, gt=0, description="how often the model is refit")
    step_s: float = Field(default=300, ge=1, description="fit step; coarser trace steps win")
    season_s: float = Field(default=86400, gt=0, description="seasonal period")
    window_s: float = Field(default=7 * 86400, gt=0, description="history span fitted")
    damped_trend: bool = Field(default=False, description="holt_winters: add a damped trend")
    transform: Literal["none", "sqrt", "log"] = Field(
        default="none", description="fit on this scale: margins grow with the level (counts)"
    )
    extra_season_s: float | None = Field(
        default=7 * 86400, gt=0, description="mstl/ensemble: a second seasonal period (weekly); dropped if too long"
    )
    candidates: tuple[ModelName, ...] = Field(
        default=("seasonal_naive", "holt_winters", "mstl", "sarimax", "gbm"), min_length=1,
        description="auto: the models compared",
    )
    selection_interval_s: float = Field(default=86400, gt=0, description="auto: how often the choice is re-made")
    selection_origins: int = Field(default=6, ge=1, le=50, description="auto: rolling origins scored")
    level_shift: float | None = Field(
        default=None, gt=0, description="move history before a lasting level shift (> k robust sigmas of the "
        "seasonal differences) onto the new level before fitting; off: models adapt at their own pace",
    )
    clip_outliers: float | None = Field(
        default=None, gt=0, description="clip fitted values above median + k·MAD (robust z > k); off: spikes are "
        "demand an autoscaler must see",
    )

    def history_s(self) -> float:
        """Seconds of history a refit reads: the window, and for ``auto`` the selection span before it
        (two seasons), so every rolling origin's fit sees a whole window as the real fit will."""
        return self.window_s + (2 * self.season_s if self.model == "auto" else 0.0)

    @model_validator(mode="after")
    def _candidates(self) -> ForecastSettings:
        if "auto" in self.candidates:
            raise ValueError("candidates: auto cannot be its own candidate")
        return self
