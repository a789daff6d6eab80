"""A bounded protobuf wire-format reader (varints, length-delimited fields, fixed32/64).

Built for hostile input: every length is checked against the bytes that remain before it is
used, nested messages are views (no copies), recursion depth is limited by the caller, and each
step consumes at least one byte, so a malformed file ends in :class:`WireError` quickly rather
than in a hang, a crash or a large allocation.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5
_MAX_VARINT_BYTES = 10


class WireError(ValueError):
    """The bytes are not valid protobuf wire format (the message says where)."""


@dataclass(frozen=True)
class Field:
    """One decoded field: number, wire type, and value (int for scalars, memoryview for LEN).

    Attributes:
        number: the field number.
        wire_type: protobuf wire type.
        value: an int for scalars, a memoryview for length-delimited fields.
        offset: where the field starts in the file.
    """

    number: int
    wire_type: int
    value: int | memoryview
    offset: int

    def as_bytes(self) -> memoryview:
        """The payload of a length-delimited field."""
        if not isinstance(self.value, memoryview):
            raise WireError(f"field {self.number} at byte {self.offset}: expected length-delimited, "
                            f"got wire type {self.wire_type}")
        return self.value

    def as_int(self) -> int:
        """The value of a varint or fixed field."""
        if isinstance(self.value, memoryview):
            raise WireError(f"field {self.number} at byte {self.offset}: expected a number, got bytes")
        return self.value


def read_varint(buf: memoryview, pos: int, base: int = 0) -> tuple[int, int]:
    """Decode a varint at ``pos``; return ``(value, next_pos)``.

    Args:
        buf: the bytes.
        pos: where the varint starts.
        base: offset of ``buf`` in the file, for error messages.
    """
    result = 0
    shift = 0
    end = len(buf)
    for i in range(_MAX_VARINT_BYTES):
        if pos >= end:
            raise WireError(f"truncated varint at byte {base + pos}")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        del i
    raise WireError(f"varint longer than {_MAX_VARINT_BYTES} bytes at byte {base + pos}")


def iter_fields(buf: memoryview, base: int = 0) -> Iterator[Field]:
    """Fields of one message, in file order. ``base`` is the message's offset, for messages."""
    pos = 0
    end = len(buf)
    while pos < end:
        start = pos
        key, pos = read_varint(buf, pos, base)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError(f"field number 0 at byte {base + start}")
        if wire_type == VARINT:
            value, pos = read_varint(buf, pos, base)
            yield Field(number, wire_type, value, base + start)
        elif wire_type == LEN:
            length, pos = read_varint(buf, pos, base)
            if length > end - pos:
                raise WireError(
                    f"field {number} at byte {base + start} claims {length} bytes but only {end - pos} remain"
                )
            yield Field(number, wire_type, buf[pos : pos + length], base + pos)
            pos += length
        elif wire_type == FIXED32:
            if end - pos < 4:
                raise WireError(f"truncated fixed32 field {number} at byte {base + start}")
            yield Field(number, wire_type, int.from_bytes(buf[pos : pos + 4], "little"), base + start)
            pos += 4
        elif wire_type == FIXED64:
            if end - pos < 8:
                raise WireError(f"truncated fixed64 field {number} at byte {base + start}")
            yield Field(number, wire_type, int.from_bytes(buf[pos : pos + 8], "little"), base + start)
            pos += 8
        else:
            raise WireError(f"unsupported wire type {wire_type} for field {number} at byte {base + start}")


def packed_varints(buf: memoryview, base: int = 0) -> list[int]:
    """Decode a packed repeated varint payload."""
    out = []
    pos = 0
    while pos < len(buf):
        v, pos = read_varint(buf, pos, base)
        out.append(v)
    return out


def fixed32_to_float(bits: int) -> float:
    """Reinterpret fixed32 bits as an IEEE float."""
    return float(struct.unpack("<f", bits.to_bytes(4, "little"))[0])


def fixed64_to_double(bits: int) -> float:
    """Reinterpret fixed64 bits as an IEEE double."""
    return float(struct.unpack("<d", bits.to_bytes(8, "little"))[0])


def zigzag(value: int) -> int:
    """Decode a zigzag-encoded signed integer."""
    return (value >> 1) ^ -(value & 1)
