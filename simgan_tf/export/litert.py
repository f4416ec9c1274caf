"""Run an exported `.tflite` refiner with the LiteRT interpreter (numpy only, no TensorFlow).

The float flavours carry the `refine_float` signature (float32 in [-1, 1] in and out); the
full-integer int8 flavour carries `serving_default` with uint8 pixels in (scale 1, zero
point 0: raw camera pixels) and uint8 out, whose pixel value is
`scale * (q - zero_point)` from the output's quantization parameters. The flavours of a
uint16 (depth) run carry `serving_default` with uint16 in and out (not quantized: the
values are the depth). This class hides those differences: `refine` (pixels of the model's
dtype in and out) and `refine_float` work on every flavour, `refine_uint8` on uint8 ones.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from simgan_tf.export.contract import (
    FLOAT_SIGNATURE,
    SERVING_SIGNATURE,
    InputShapeError,
    check_images,
    half_range,
)

PIXEL_SCALE = 127.5  # pixel = (x + 1) * 127.5, as simgan_tf.data.to_model_range / from_model_range


def _quantize(real: np.ndarray, details: dict[str, Any]) -> np.ndarray:
    dtype = details["dtype"]
    if np.issubdtype(dtype, np.floating):
        return real.astype(dtype)
    scale, zero_point = details["quantization"]
    info = np.iinfo(dtype)
    if not scale:  # an integer tensor that is not quantized (uint16 depth): the values themselves
        return np.clip(np.round(real), info.min, info.max).astype(dtype)
    return np.clip(np.round(real / scale + zero_point), info.min, info.max).astype(dtype)


def _dequantize(values: np.ndarray, details: dict[str, Any]) -> np.ndarray:
    if np.issubdtype(values.dtype, np.floating):
        return values.astype(np.float32)
    scale, zero_point = details["quantization"]
    if not scale:
        return values.astype(np.float32)
    return (values.astype(np.float32) - zero_point) * np.float32(scale)


class TFLiteRefiner:
    """A `.tflite` refiner; `num_threads=1` gives the single-thread figures of the benchmark.

    LiteRT applies its default XNNPACK delegate on CPU. The batch dimension is resized on
    demand, so any batch size works.
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        *,
        model_content: bytes | None = None,
        num_threads: int | None = None,
    ):
        from ai_edge_litert.interpreter import Interpreter

        if (model_path is None) == (model_content is None):
            raise ValueError("TFLiteRefiner needs exactly one of model_path or model_content")
        self.path = str(model_path) if model_path is not None else "<in-memory .tflite>"
        if model_path is not None and not os.path.isfile(model_path):
            raise FileNotFoundError(f"{model_path}: no such .tflite file")
        try:
            self._interpreter = Interpreter(
                model_path=str(model_path) if model_path is not None else None,
                model_content=model_content,
                num_threads=num_threads,
            )
        except ValueError as err:
            raise ValueError(f"{self.path}: not a readable TFLite model ({err})") from err
        signatures = list(self._interpreter.get_signature_list())
        known = [s for s in signatures if s in (SERVING_SIGNATURE, FLOAT_SIGNATURE)]
        if len(known) != 1:
            raise ValueError(
                f"{self.path}: expected one signature, {SERVING_SIGNATURE!r} or {FLOAT_SIGNATURE!r} "
                f"(a model written by simgan-export); found {signatures}"
            )
        self.signature = known[0]
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.image_shape: tuple[int, int, int] = tuple(int(d) for d in self._input["shape"][1:])  # type: ignore[assignment]
        # The pixels `refine` takes and returns: uint16 for a depth run's flavours (uint16
        # input), uint8 for the others (float input: pixel / 127.5 - 1; int8: uint8 pixels).
        self.image_dtype: np.dtype = np.dtype(np.uint16 if np.dtype(self.input_dtype) == np.uint16 else np.uint8)
        self._batch: int | None = None

    def __repr__(self) -> str:
        return (
            f"TFLiteRefiner({self.path!r}, signature={self.signature!r}, "
            f"input={np.dtype(self.input_dtype).name}{list(self.image_shape)})"
        )

    @property
    def interpreter(self) -> Any:
        """The underlying LiteRT Interpreter (the benchmark times its `invoke()`)."""
        return self._interpreter

    @property
    def input_dtype(self) -> Any:
        return self._input["dtype"]

    @property
    def input_details(self) -> dict[str, Any]:
        return dict(self._input)

    @property
    def output_details(self) -> dict[str, Any]:
        return dict(self._output)

    @property
    def takes_pixels(self) -> bool:
        """True for the full-integer model (real input values are pixels 0..255) and for a
        uint16 run's flavours (depth values 0..65535)."""
        return self.signature == SERVING_SIGNATURE

    def invoke(self, real_input: np.ndarray) -> np.ndarray:
        """Run one batch of real-valued inputs in the model's own domain; returns real outputs.

        Public so the latency benchmark can time exactly one interpreter call.
        """
        batch = len(real_input)
        if batch != self._batch:
            self._interpreter.resize_tensor_input(self._input["index"], [batch, *self.image_shape])
            self._interpreter.allocate_tensors()
            self._batch = batch
        self._interpreter.set_tensor(self._input["index"], _quantize(real_input, self._input))
        self._interpreter.invoke()
        return _dequantize(self._interpreter.get_tensor(self._output["index"]), self._output)

    @property
    def half_range(self) -> float:
        """pixel = (x + 1) * half_range: 127.5 for uint8 models, 32767.5 for uint16 ones."""
        return half_range(self.image_dtype)

    def refine_pixels(self, images: Any) -> np.ndarray:
        """Pixels of the model's dtype (uint8, or uint16 depth) -> refined pixels as float32
        (before rounding where the model outputs floats; for parity figures)."""
        batch = check_images(images, self.image_shape, self.image_dtype, f"TFLite model {self.path}")
        if self.takes_pixels:
            return self.invoke(batch.astype(np.float32))
        refined = self.invoke(batch.astype(np.float32) / self.half_range - 1.0)
        return (refined + 1.0) * self.half_range

    def refine(self, images: Any) -> np.ndarray:
        """[batch, H, W, C] pixels of the model's dtype -> refined pixels of that dtype (rounded,
        clipped): uint8 for uint8 runs, uint16 for depth runs. Another dtype is an
        InputShapeError naming the expected one (never rescaled)."""
        top = np.iinfo(self.image_dtype).max
        return np.clip(np.round(self.refine_pixels(images)), 0, top).astype(self.image_dtype)

    def refine_uint8(self, images: Any) -> np.ndarray:
        """uint8 [batch, H, W, C] pixels -> uint8 refined pixels (rounded, clipped)."""
        if self.image_dtype != np.uint8:
            raise InputShapeError(
                f"TFLite model {self.path} takes {self.image_dtype.name} images "
                f"[batch, {', '.join(map(str, self.image_shape))}], not uint8: use refine()"
            )
        return self.refine(images)

    def refine_float(self, images: Any) -> np.ndarray:
        """float32 [batch, H, W, C] in [-1, 1] -> float32 refined images in [-1, 1]."""
        batch = check_images(images, self.image_shape, np.float32, f"TFLite model {self.path}")
        if self.takes_pixels:
            return self.invoke((batch + 1.0) * self.half_range) / self.half_range - 1.0
        return self.invoke(batch)
