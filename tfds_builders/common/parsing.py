"""Parsing of the vector strings UnityEyes writes into its JSON files.

Unity's `Vector3.ToString("F4")` gives "(x, y, z)" and `Vector4.ToString("F4")` gives
"(x, y, z, w)". They are parsed as numbers, never evaluated as Python.
"""
from __future__ import annotations

import os

import numpy as np

from tfds_builders.common.errors import BadInputError


def parse_vector(text: object, size: int, path: str | os.PathLike, field: str) -> np.ndarray:
    """"(1.0, -2.5, 3)" -> float64 array of `size` values; BadInputError naming `path`/`field`."""
    expected = f"{field} as a string '(' + {size} comma-separated numbers + ')'"
    if not isinstance(text, str):
        raise BadInputError(path, f"{field} is {type(text).__name__} {text!r}", expected)
    body = text.strip()
    if not (body.startswith("(") and body.endswith(")")):
        raise BadInputError(path, f"{field} is {text!r}", expected)
    parts = [p.strip() for p in body[1:-1].split(",")]
    if len(parts) != size:
        raise BadInputError(path, f"{field} has {len(parts)} values ({text!r})", expected)
    try:
        values = np.array([float(p) for p in parts], dtype=np.float64)
    except ValueError:
        raise BadInputError(path, f"{field} holds a non-number ({text!r})", expected) from None
    if not np.all(np.isfinite(values)):
        raise BadInputError(path, f"{field} holds a non-finite value ({text!r})", expected)
    return values
