"""Every command's ``--help`` reads as a person writes it: flags bare (``--sweep``, not ``--sweep <bool>``),
values named (``--config PATH``, repeatable ones say so), times by example, not by strptime pattern."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from forecastscale.backtest.sweep import SLO_METRICS
from forecastscale.cli import app
from forecastscale.cli.backtest import SLO_METRICS as HELP_SLO_METRICS
from forecastscale.cli.models import MODEL_CHOICES
from forecastscale.forecasters import MODELS

runner = CliRunner()
COMMANDS: dict[str, Any] = typer.main.get_command(app).commands  # type: ignore[attr-defined]
HELPS = [pytest.param([], id="forecastscale"), *(pytest.param([name], id=name) for name in COMMANDS)]

TYPE_LABEL = re.compile(r"<[a-z][a-zA-Z_\[\]|, ]*>")  # typer's <bool>, <str>, <list[Path]>, <path>
STRPTIME = re.compile(r"%[a-zA-Z]")  # %Y-%m-%dT%H:%M


def help_text(args: list[str]) -> str:
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "250"})  # wide: no label folded over lines
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("args", HELPS)
@pytest.mark.parametrize(("pattern", "what"), [
    (re.compile(re.escape("<bool>")), "a value after a flag"),
    (re.compile(re.escape("<list[")), "a Python type for a repeatable option"),
    (TYPE_LABEL, "a Python type instead of a value's name"),
    (STRPTIME, "a strptime pattern instead of an example time"),
    (re.compile(r"--no-[a-z]"), "a --no- twin of a flag that is off unless given"),
], ids=["bool", "list", "type-label", "strptime", "no-twin"])
def test_help_shows_no_machine_notation(args: list[str], pattern: re.Pattern[str], what: str) -> None:
    found = pattern.findall(help_text(args))
    assert not found, f"{' '.join(args) or 'forecastscale'} --help shows {what}: {found}"


@pytest.mark.parametrize("name", COMMANDS)
def test_repeatable_options_say_so(name: str) -> None:
    for param in COMMANDS[name].params:
        if getattr(param, "multiple", False):
            assert "repeatable" in (param.help or ""), f"{name} {param.opts[0]}"
            assert param.metavar, f"{name} {param.opts[0]}: no value name"


@pytest.mark.parametrize(("args", "shown"), [
    (["backtest"], ["--config PATH", "--trace PATH", "--report DIR", "--sweep ", "--quiet "]),
    (["tune"], ["--slo METRIC<=NUMBER", "--prometheus URL", "--since DURATION"]),
    (["run"], ["--prometheus URL", "--at TIME", "2024-01-01T00:00Z", "UTC if no offset", "--dry-run "]),
    (["replay"], ["--until TIME", "2024-01-01T00:00Z"]),
    (["forecast"], ["--model MODEL", "--horizon DURATION"]),
], ids=["backtest", "tune", "run", "replay", "forecast"])
def test_help_names_values_as_a_person_would(args: list[str], shown: list[str]) -> None:
    text = " ".join(help_text(args).replace("│", " ").split())
    for words in shown:
        assert words in text + " ", words


@pytest.mark.parametrize(("args", "extra"), [
    (["backtest", "--sweep", "yes"], "yes"),
    (["backtest", "--quiet", "true"], "true"),
    (["run", "--config", "c.yaml", "--once", "1"], "1"),
], ids=["sweep-yes", "quiet-true", "once-1"])
def test_a_flag_takes_no_value(args: list[str], extra: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "unexpected extra argument" in result.output and extra in result.output


def test_help_lists_are_the_ones_checked() -> None:
    """The names in the help come from the config models (cheap to import); the checks use these."""
    assert HELP_SLO_METRICS == SLO_METRICS
    assert (*MODELS, "auto") == MODEL_CHOICES
