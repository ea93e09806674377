"""Surface ``config``: a YAML file through ``load_config``, then each target's policies built and one decision.

Seeds: every bundled config (``data/*.yaml``, ``data/scenarios/*.yaml``, ``examples/*.yaml`` and the config
inside ``deploy/base/configmap.yaml``). Cases: the seed's data with values replaced by hostile ones and dumped
back, YAML constructs spliced into the seed's text (anchors, alias bombs, tags, duplicate keys, deep
nesting, merge keys, dates), or blind text edits; as bytes, sometimes not UTF-8.
"""

from __future__ import annotations

import random
from pathlib import Path

import yaml

from benchmarks.fuzz import Surface, Verdict, verdict
from benchmarks.fuzz.hostile import mutate_text, mutate_tree
from benchmarks.fuzz.invariants import config_problems, yaml_problems
from benchmarks.fuzz.workdir import scratch
from forecastscale.config import load_config
from forecastscale.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
MAX_MESSAGE_CHARS = 20_000  # an error that long repeats the input (it must not)
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))
# Spliced into one ``key: value`` line: before the value, in place of it, or after the line.
BEFORE_VALUE = ["&a ", "*a ", "!!int ", "!!float ", "!!timestamp ", "!!binary ", "!!python/object/apply:os.getcwd ",
                "[" * 3000, "{<<: {a: 1}, b: ", "!!set ", "!!omap "]
AS_VALUE = ["2024-02-30", "1e999", ".inf", "-.inf", ".nan", "9" * 5000, "0x" + "f" * 300, "*a", "~", "''"]
AFTER_LINE = ["\nzz: *a", "\n---\n", "\n...\n", "\n%YAML 1.1\n"]


def seeds() -> list[str]:
    """The bundled configs' text."""
    files = sorted([*ROOT.glob("data/*.yaml"), *ROOT.glob("data/scenarios/*.yaml"), *ROOT.glob("examples/*.yaml")])
    texts = [f.read_text(encoding="utf-8") for f in files]
    configmap = yaml.safe_load((ROOT / "deploy" / "base" / "configmap.yaml").read_text(encoding="utf-8"))
    return [*texts, configmap["data"]["config.yaml"]]


def _construct(rng: random.Random, text: str) -> str:
    """``text`` with one YAML construct spliced into a random ``key: value`` line, or an alias bomb appended."""
    if rng.random() < 0.1:
        return text + "\n" + BOMB
    lines = text.split("\n")
    keyed = [i for i, line in enumerate(lines) if ": " in line and not line.lstrip().startswith("#")]
    i = rng.choice(keyed) if keyed else 0
    key, _, value = lines[i].partition(": ")
    how = rng.randrange(4)
    if how == 0:
        lines[i] = f"{key}: {rng.choice(BEFORE_VALUE)}{value}"
    elif how == 1:
        lines[i] = f"{key}: {rng.choice(AS_VALUE)}"
    elif how == 2:
        lines[i] += rng.choice(AFTER_LINE)
    else:
        lines.insert(i, lines[i])  # the same key twice
    return "\n".join(lines)


def mutate(rng: random.Random, seed: str) -> bytes:
    """One hostile config file."""
    pick = rng.random()
    if pick < 0.45:
        text = yaml.safe_dump(mutate_tree(rng, yaml.safe_load(seed), rng.randint(1, 3)), sort_keys=False)
    elif pick < 0.7:
        text = _construct(rng, seed)
    else:
        text = mutate_text(rng, seed, rng.randint(1, 4))
    raw = text.encode("utf-8", errors="surrogatepass")
    if rng.random() < 0.03 and raw:  # a byte that is not UTF-8
        k = rng.randrange(len(raw))
        raw = raw[:k] + bytes([rng.choice([0xFF, 0xC3, 0x80])]) + raw[k + 1:]
    return raw


def run(case: bytes) -> Verdict:
    """Load the case; a ConfigError is clean (if short), an accepted config must satisfy the invariants."""
    path = scratch() / "config.yaml"
    path.write_bytes(case)
    try:
        config = load_config(path)
    except ConfigError as exc:
        if len(str(exc)) > MAX_MESSAGE_CHARS:
            return Verdict("wrong", f"error message of {len(str(exc)):,} chars")
        return Verdict("clean", exc.problems[0][:200] if exc.problems else "")
    return verdict(yaml_problems(case.decode("utf-8-sig")) + config_problems(config))


SURFACE = Surface("config", seeds, mutate, run)
