"""Seeded hostile mutations shared by the surfaces: values a tester would try, and blind text edits.

Every function takes a ``random.Random`` so a campaign with one ``--seed`` is reproducible.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

# Values that broke, or could break, a loader or the arithmetic behind it.
NUMBERS: list[Any] = [float("inf"), float("-inf"), float("nan"), 1e308, -1e308, 5e-324, 1e-300, 0, 0.0, -1, -0.0,
                      2**31, 2**63, 2**64 + 1, 10**40, 1e12, 1e18, 1.5, 0.5, 1, 3, True, False]
STRINGS: list[Any] = ["", " ", "x" * 10_000, "nan", "inf", "-inf", "1e999", "2024-02-30", "\x00", "\u202e",
                      "a\nb", "$target$", "${x}", "0x10", "1_000", "９", "null", "~", "true"]
SHAPES: list[Any] = [None, [], {}, [1, 2], {"a": 1}, [[[[[[[[1]]]]]]]], {"a": {"b": {"c": {"d": 1}}}}]
# Tokens that change a text's structure when spliced in anywhere.
TOKENS = ["\x00", "\t", "\r", "\n", " ", ":", ",", "-", "- ", "{", "}", "[", "]", "&a ", "*a", "!!int ", "!!float ",
          "<<: ", "---\n", "...\n", "%YAML 1.1\n", "'", '"', "#", "\ufeff", "\\", "NaN", "Infinity", "1e999",
          "9" * 401, "[" * 200, "{" * 200, "\xff"]


def hostile_value(rng: random.Random) -> Any:
    """One value from the hostile tables (a number most often: numbers are what loaders trust)."""
    table = rng.choices([NUMBERS, STRINGS, SHAPES], weights=[6, 3, 1])[0]
    return copy.deepcopy(rng.choice(table))


def leaves(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths to every value in nested dicts and lists (containers included, so whole branches get replaced)."""
    if path:
        yield path
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from leaves(value, (*path, i))


def replace_at(data: Any, path: tuple[Any, ...], value: Any) -> None:
    """Set ``data[path] = value`` in place."""
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def mutate_tree(rng: random.Random, data: Any, edits: int = 2) -> Any:
    """A deep copy of ``data`` with ``edits`` random values replaced, deleted, or keys added."""
    out = copy.deepcopy(data)
    for _ in range(edits):
        paths = list(leaves(out))
        if not paths:
            return out
        path = rng.choice(paths)
        parent: Any = out
        for key in path[:-1]:
            parent = parent[key]
        action = rng.random()
        if action < 0.75:
            parent[path[-1]] = hostile_value(rng)
        elif action < 0.88 and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[rng.choice(["colour", "x", "max_replicas", "shift", "target"])] = hostile_value(rng)
    return out


def mutate_text(rng: random.Random, text: str, edits: int = 2) -> str:
    """``text`` with ``edits`` blind edits: splice a token, delete, duplicate or swap a span, truncate."""
    for _ in range(edits):
        i = rng.randrange(len(text) + 1)
        j = min(len(text), i + rng.randrange(1, 40))
        action = rng.randrange(6)
        if action == 0:
            text = text[:i] + rng.choice(TOKENS) + text[i:]
        elif action == 1:
            text = text[:i] + text[j:]
        elif action == 2:
            text = text[:i] + text[i:j] * rng.randrange(2, 6) + text[i:]
        elif action == 3:
            text = text[:i] + chr(rng.randrange(0x20, 0x7F)) + text[i + 1:]
        elif action == 4 and len(text) > 2:
            k = rng.randrange(len(text))
            text = text[:i] + text[k:k + 20] + text[i:]
        else:
            text = text[:j]
    return text
