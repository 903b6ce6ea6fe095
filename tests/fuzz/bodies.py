"""Hypothesis strategies for what arrives on a queue: canonical events broken in every way a producer, a person
or a transport can break them (missing fields, wrong types, non-JSON, huge values, wrong encodings, unicode)."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
WEIRD_TEXT = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x10FFFF, exclude_categories=("Cs",))),
    st.just("x" * 300_000),  # a huge value
    st.just("\x00\ufeff\u202e"),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += _paths(child, (*prefix, index))
    return paths


@st.composite
def mutated(draw: st.DrawFn, canonical: dict[str, Any]) -> dict[str, Any]:
    """The canonical event with 1 to 3 of its fields deleted or replaced by any JSON value or weird text."""
    event = copy.deepcopy(canonical)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(event)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = event
        for part in path[:-1]:
            parent = parent[part]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(st.one_of(JSON_VALUES, WEIRD_TEXT))
    return event


def sqs_bodies(canonical: dict[str, Any]) -> st.SearchStrategy[str]:
    """An SQS message body: a broken version of the canonical event, any JSON, or not JSON at all."""
    return st.one_of(
        mutated(canonical).map(json.dumps),
        JSON_VALUES.map(json.dumps),
        WEIRD_TEXT,
        st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
        st.just(json.dumps(canonical)[:-7]),  # truncated in transit
    )
