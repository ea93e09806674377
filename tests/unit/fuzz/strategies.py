"""Hypothesis strategies for hostile input: values a tester would try, and edits of a structure or a text."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from benchmarks.fuzz.hostile import TOKENS, leaves

# Numbers first: they are what loaders trust. Floats include NaN, ±inf, denormals and 1e308.
numbers = st.one_of(st.floats(), st.integers(min_value=-(2**80), max_value=2**80),
                    st.sampled_from([0, -1, 2**31, 2**63, 10**40, 1e308, 5e-324, -0.0]))
texts = st.one_of(st.text(max_size=20), st.sampled_from(["", "nan", "inf", "1e999", "2024-02-30", "x" * 5000,
                                                          "\x00", "a\nb", "$x", "${target}"]))
shapes = st.recursive(st.none() | st.booleans() | numbers | texts,
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                     max_size=3),
                      max_leaves=8)
hostile = st.one_of(numbers, numbers, texts, shapes)


@st.composite
def edited(draw: st.DrawFn, data: Any, max_edits: int = 3) -> Any:
    """``data`` (nested dicts/lists, deep-copied by the caller) with 1..``max_edits`` values replaced or deleted."""
    for _ in range(draw(st.integers(1, max_edits))):
        paths = list(leaves(data))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.integers(0, 9)) == 0:
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(hostile)
    return data


@st.composite
def spliced(draw: st.DrawFn, text: str) -> str:
    """``text`` with a few structure-changing tokens spliced in, spans deleted or the tail cut."""
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        how = draw(st.integers(0, 2))
        if how == 0:
            text = text[:i] + draw(st.sampled_from(TOKENS) | st.text(max_size=3)) + text[i:]
        elif how == 1:
            text = text[:i] + text[i + draw(st.integers(1, 30)):]
        else:
            text = text[:i]
    return text
