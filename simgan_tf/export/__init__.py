"""Deployment: SavedModel for TF Serving, TFLite flavours, parity checks (see docs/deployment.md).

Attributes are imported lazily so `simgan_tf.export.litert` (the TFLite runner) can be
used on a device without importing TensorFlow.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "export_run": "exporter",
    "export_refiner": "exporter",
    "tflite_path": "exporter",
    "EXPORT_JSON": "exporter",
    "ExportConfig": "settings",
    "FLAVOURS": "settings",
    "ExportError": "saved_model",
    "VersionExistsError": "saved_model",
    "SavedModelRefiner": "saved_model",
    "ParityError": "parity",
    "TFLiteRefiner": "litert",
    "InputShapeError": "contract",
    "SERVING_SIGNATURE": "contract",
    "FLOAT_SIGNATURE": "contract",
    "INPUT_KEY": "contract",
    "OUTPUT_KEY": "contract",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
