"""From a file or a parsed mapping to a :class:`Config`, or a :class:`ConfigError` with one line per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from forecastscale.config.messages import format_validation_error
from forecastscale.config.migration import moved_keys
from forecastscale.config.root import Config
from forecastscale.config.target import Target
from forecastscale.config.yaml_loader import parse_yaml, read_text
from forecastscale.errors import ConfigError

_SERVICE_PATHS = ("models_dir", "webhook_token_file", "tls_cert_file", "tls_key_file")


def parse_config(data: Any, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate ``data`` (a parsed YAML mapping); file paths in it resolve against ``base_dir``.

    A target in the flat form of before format 2 is refused with the new place of every old key (and nothing
    else: the errors its old keys would cause further down say less)."""
    if moves := moved_keys(data):
        raise ConfigError(source, moves)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, format_validation_error(exc, Config)) from exc
    return config if base_dir is None else _relative_to(config, base_dir)


def _relative_to(config: Config, base_dir: Path) -> Config:
    """``config`` with its trace and service file paths taken relative to ``base_dir`` (the config's folder)."""
    service = config.service
    for field in _SERVICE_PATHS:
        if (path := getattr(service, field)) is not None:
            service = service.model_copy(update={field: base_dir / path})
    targets = [_trace_under(t, base_dir) for t in config.targets]
    return config.model_copy(update={"targets": targets, "service": service})


def _trace_under(target: Target, base_dir: Path) -> Target:
    if (trace := target.backtest.trace) is None:
        return target
    return target.model_copy(update={"backtest": target.backtest.model_copy(update={"trace": base_dir / trace})})


def load_config(path: Path) -> Config:
    """Read and validate a YAML config file; any problem raises :class:`ConfigError` (see
    :mod:`~forecastscale.config.yaml_loader` for what the reader refuses: over 4 MiB, anchors/aliases,
    duplicate keys, deep nesting)."""
    data = parse_yaml(read_text(path), str(path))
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"top level must be a mapping, got {type(data).__name__}"])
    return parse_config(data, str(path), path.parent)
