"""Actuators: set replica counts on the live cluster (scale subresources) with bounded, typed retries."""

from forecastscale.actuators.base import Actuator, ApplyResult, Outcome, ScaleState

__all__ = ["Actuator", "ApplyResult", "Outcome", "ScaleState"]
