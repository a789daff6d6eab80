"""Decode CNTK v2 ``.model`` files (a protobuf ``Dictionary``) into plain Python values.

Only the facts in ``docs/cntk-model-format.md`` are used; no CNTK and no compiled protobuf
schema. Values come back as ``bool``, ``int``, ``float``, ``str``, :class:`Shape` (dims stored
reversed, as in the file), :class:`Axis`, ``list`` (Vector), ``dict`` (Dictionary) and
:class:`NDArray` (tensor values, float32/float64 as numpy views of the file's bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .wire import (
    FIXED32,
    FIXED64,
    LEN,
    VARINT,
    Field,
    WireError,
    fixed32_to_float,
    fixed64_to_double,
    iter_fields,
    packed_varints,
    zigzag,
)

MAX_DEPTH = 64
_F32: np.dtype[Any] = np.dtype("<f4")
_F64: np.dtype[Any] = np.dtype("<f8")


@dataclass(frozen=True)
class Shape:
    """An NDShape as stored (CNTK column-major order: reversed relative to Python)."""

    stored: tuple[int, ...]

    @property
    def python(self) -> tuple[int, ...]:
        """The shape in Python (row-major) order."""
        return tuple(reversed(self.stored))


@dataclass(frozen=True)
class Axis:
    """A CNTK axis descriptor.

    Attributes:
        static_index: the axis's static index.
        name: its name.
        ordered_dynamic: whether it is an ordered dynamic axis.
    """

    static_index: int
    name: str
    ordered_dynamic: bool


@dataclass(frozen=True)
class NDArray:
    """A stored tensor: CNTK data type code, stored shape and flat values.

    Attributes:
        data_type: CNTK's data type code.
        shape: the stored (column-major) shape.
        values: the flat values.
    """

    data_type: int
    shape: Shape
    values: npt.NDArray[Any]

    def to_numpy(self) -> npt.NDArray[np.float32]:
        """The tensor in Python order as a float32 array (a copy)."""
        return np.array(self.values, dtype=np.float32).reshape(self.shape.python)


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise WireError(message)


def _string(f: Field) -> str:
    try:
        return bytes(f.as_bytes()).decode("utf-8")
    except UnicodeDecodeError:
        raise WireError(f"field {f.number} at byte {f.offset}: invalid UTF-8 string") from None


def decode_shape(buf: memoryview, base: int) -> Shape:
    """Decode an ``NDShape`` message."""
    dims: list[int] = []
    for f in iter_fields(buf, base):
        if f.number == 1:
            if f.wire_type == LEN:
                dims.extend(packed_varints(f.as_bytes(), f.offset))
            elif f.wire_type == VARINT:
                dims.append(f.as_int())
            else:
                raise WireError(f"NDShape dims at byte {f.offset}: wire type {f.wire_type}")
    _need(len(dims) <= 16, f"NDShape at byte {base}: {len(dims)} dimensions")
    return Shape(tuple(dims))


def decode_axis(buf: memoryview, base: int) -> Axis:
    """Decode an ``Axis`` message."""
    idx, name, ordered = 0, "", False
    for f in iter_fields(buf, base):
        if f.number == 1:
            idx = f.as_int()
        elif f.number == 2:
            name = _string(f)
        elif f.number == 3:
            ordered = bool(f.as_int())
    return Axis(idx, name, ordered)


def _float_values(buf: memoryview, base: int, dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """The packed (or, tolerated, unpacked) repeated floats of a values message."""
    chunks: list[npt.NDArray[Any]] = []
    scalars: list[float] = []
    for f in iter_fields(buf, base):
        if f.number != 1:
            continue
        if f.wire_type == LEN:
            raw = f.as_bytes()
            _need(len(raw) % dtype.itemsize == 0, f"packed values at byte {f.offset}: length {len(raw)} "
                  f"not a multiple of {dtype.itemsize}")
            chunks.append(np.frombuffer(raw, dtype=dtype))
        elif f.wire_type == FIXED32 and dtype.itemsize == 4:
            scalars.append(fixed32_to_float(f.as_int()))
        elif f.wire_type == FIXED64 and dtype.itemsize == 8:
            scalars.append(fixed64_to_double(f.as_int()))
        else:
            raise WireError(f"values at byte {f.offset}: wire type {f.wire_type}")
    if scalars:
        chunks.append(np.array(scalars, dtype=dtype))
    if not chunks:
        return np.zeros(0, dtype=dtype)
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


def decode_ndarray(buf: memoryview, base: int) -> NDArray:
    """Decode an ``NDArrayView`` message; the value count must equal the shape's size."""
    data_type = 0
    shape: Shape | None = None
    values: npt.NDArray[Any] | None = None
    for f in iter_fields(buf, base):
        if f.number == 1:
            data_type = f.as_int()
        elif f.number == 3:
            shape = decode_shape(f.as_bytes(), f.offset)
        elif f.number == 4:
            values = _float_values(f.as_bytes(), f.offset, _F32)
        elif f.number == 5:
            values = _float_values(f.as_bytes(), f.offset, _F64)
        elif f.number == 6:
            values = np.frombuffer(f.as_bytes(), dtype=np.uint8)
        elif f.number == 7:
            values = np.array([zigzag(v) for v in packed_varints(f.as_bytes(), f.offset)], dtype=np.int64)
    _need(shape is not None, f"NDArrayView at byte {base} has no shape")
    assert shape is not None
    if values is None:
        values = np.zeros(0, dtype=np.float32)
    size = 1
    for d in shape.stored:
        size *= d
    _need(size == values.size, f"NDArrayView at byte {base}: shape {shape.python} needs {size} values, "
          f"file holds {values.size}")
    return NDArray(data_type, shape, values)


def decode_value(buf: memoryview, base: int, depth: int) -> Any:
    """Decode a ``DictionaryValue``.

    Args:
        buf: the message bytes.
        base: offset of ``buf`` in the file, for error messages.
        depth: nesting depth (bounded against hostile files).
    """
    _need(depth <= MAX_DEPTH, f"nesting deeper than {MAX_DEPTH} at byte {base}")
    value: Any = None
    for f in iter_fields(buf, base):
        n = f.number
        if n in (1, 2):
            continue
        if n == 3:
            value = bool(f.as_int())
        elif n == 4:
            v = f.as_int() & 0xFFFFFFFF
            value = v - (1 << 32) if v >= 1 << 31 else v
        elif n == 5:
            value = f.as_int()
        elif n == 6:
            _need(f.wire_type == FIXED32, f"float value at byte {f.offset}: wire type {f.wire_type}")
            value = fixed32_to_float(f.as_int())
        elif n == 7:
            _need(f.wire_type == FIXED64, f"double value at byte {f.offset}: wire type {f.wire_type}")
            value = fixed64_to_double(f.as_int())
        elif n == 8:
            value = _string(f)
        elif n == 9:
            value = decode_shape(f.as_bytes(), f.offset)
        elif n == 10:
            value = decode_axis(f.as_bytes(), f.offset)
        elif n == 11:
            value = [
                decode_value(g.as_bytes(), g.offset, depth + 1)
                for g in iter_fields(f.as_bytes(), f.offset)
                if g.number == 1
            ]
        elif n == 12:
            value = decode_dictionary(f.as_bytes(), f.offset, depth + 1)
        elif n == 13:
            value = decode_ndarray(f.as_bytes(), f.offset)
    return value


def decode_dictionary(buf: memoryview, base: int = 0, depth: int = 0) -> dict[str, Any]:
    """Decode a ``Dictionary`` message into a ``dict``.

    Args:
        buf: the message bytes.
        base: offset of ``buf`` in the file, for error messages.
        depth: nesting depth (bounded against hostile files).
    """
    _need(depth <= MAX_DEPTH, f"nesting deeper than {MAX_DEPTH} at byte {base}")
    out: dict[str, Any] = {}
    for f in iter_fields(buf, base):
        if f.number != 2:
            continue
        key: str | None = None
        value: Any = None
        for g in iter_fields(f.as_bytes(), f.offset):
            if g.number == 1:
                key = _string(g)
            elif g.number == 2:
                value = decode_value(g.as_bytes(), g.offset, depth + 1)
        _need(key is not None, f"dictionary entry at byte {f.offset} has no key")
        assert key is not None
        out[key] = value
    return out


def decode_model_bytes(data: bytes) -> dict[str, Any]:
    """Decode a whole CNTK model file's bytes.

    A framing pass over the top-level fields comes first: it costs one step per top-level
    field, and a truncated or corrupted file usually fails there before any content is decoded.
    """
    view = memoryview(data)
    for _ in iter_fields(view):
        pass
    return decode_dictionary(view)
