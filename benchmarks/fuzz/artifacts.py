"""Surface ``artifacts``: a model artifact through ``store.load`` for its target, with its target's settings.

Seeds: the bundled artifacts (``models/*.json``). A case is loaded as the seed's own target with the seed's
own settings expected (what a matching config would ask for), so an accepted case must still name that
target, carry those settings, a finite shift and the installed libraries' versions. Cases: values replaced
by hostile ones (NaN/Infinity/401-digit text, deep nesting, another target, other settings or versions),
raw JSON spliced in, or blind text edits.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from benchmarks.fuzz import Surface, Verdict, verdict
from benchmarks.fuzz.hostile import mutate_text, mutate_tree
from benchmarks.fuzz.invariants import artifact_problems
from benchmarks.fuzz.workdir import scratch
from forecastscale.forecasters import MODELS
from forecastscale.forecasters.store import ArtifactError, library_versions, load

ROOT = Path(__file__).resolve().parents[2]
MAX_MESSAGE_CHARS = 4_000
RAW = ["NaN", "Infinity", "-Infinity", "1e999", "9" * 401, "-" + "9" * 39, "[" * 5000 + "]" * 5000, "{}", "[]",
       "null", "true", '"\\u0000"', '"\\ud800"', "0.1e-400", "1E400", '{"a": ' * 100 + "1" + "}" * 100]


def seeds() -> list[dict[str, Any]]:
    """The bundled artifacts, their library versions set to the installed ones (what ``train`` here writes)."""
    out = []
    for path in sorted(ROOT.glob("models/*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        out.append({**body, "libraries": library_versions()})
    return out


def mutate(rng: random.Random, seed: dict[str, Any]) -> tuple[str, dict[str, Any], bytes]:
    """``(target, expected settings, file bytes)``: one hostile artifact for the seed's target."""
    pick = rng.random()
    if pick < 0.5:
        body = mutate_tree(rng, seed, rng.randint(1, 3))
        text = json.dumps(body, indent=1, allow_nan=True, default=str)
    elif pick < 0.75:  # raw JSON text no json.dumps would write
        text = json.dumps({**seed, "@": "@"}, indent=1)
        key = rng.choice(["shift", "scores", "data", "settings", "format_version", "target", "created"])
        text = text.replace(f'"{key}":', '"@@":', 1).replace('"@": "@"', f'"{key}": {rng.choice(RAW)}')
    else:
        text = mutate_text(rng, json.dumps(seed, indent=1), rng.randint(1, 4))
    return seed["target"], seed["settings"], text.encode("utf-8", errors="surrogatepass")


def run(case: tuple[str, dict[str, Any], bytes]) -> Verdict:
    """Load the case for its target; an ArtifactError naming the file is clean, an accepted one is checked."""
    target, expected, raw = case
    path = scratch() / "artifact.json"
    path.write_bytes(raw)
    try:
        artifact = load(path, known_models=MODELS, target=target, expected=expected)
    except ArtifactError as exc:
        if not str(exc).startswith(str(path)) or len(str(exc)) > MAX_MESSAGE_CHARS:
            return Verdict("wrong", f"error does not name the file or is long: {str(exc)[:200]}")
        return Verdict("clean", str(exc).removeprefix(str(path))[:200])
    return verdict(artifact_problems(artifact, target, expected))


SURFACE = Surface("artifacts", seeds, mutate, run)
