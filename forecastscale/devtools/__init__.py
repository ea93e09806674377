"""Helpers for running forecastscale against local real parts (tests, benchmarks, demos); not used by the service."""
