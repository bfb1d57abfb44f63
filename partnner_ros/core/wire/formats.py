"""What travels on the wire, without torch: codec names, the wire tensor, the
decoder's size limits and its errors. The adaptation side reads payload sizes
from here; :mod:`.codec` does the encoding and decoding.
"""

from dataclasses import dataclass

import numpy as np

FP16_MAX = 65504.0

# wire dtype -> (numpy little-endian dtype, bytes per element)
DTYPES = {
    'float32': (np.dtype('<f4'), 4),
    'float16': (np.dtype('<f2'), 2),
    'int8': (np.dtype('i1'), 1),
    'uint8': (np.dtype('u1'), 1),
}
BASE_CODECS = {'fp32': 'float32', 'fp16': 'float16', 'int8': 'int8'}
COMPRESSIONS = ('', 'lz4', 'zstd')
JPEG = 'jpeg'
CODECS = tuple(base + (f'+{c}' if c else '') for base in BASE_CODECS for c in COMPRESSIONS) + (JPEG,)


class DecodeError(ValueError):
    """A payload that cannot be decoded safely; the message says what is wrong."""


class UnknownCodec(DecodeError):
    pass


class UnknownDtype(DecodeError):
    pass


class ShapeMismatch(DecodeError):
    pass


class TruncatedPayload(DecodeError):
    pass


class PayloadTooLarge(DecodeError):
    pass


class CorruptPayload(DecodeError):
    pass


@dataclass(frozen=True)
class Codec:
    name: str
    dtype: str
    compression: str

    @classmethod
    def parse(cls, name: str) -> 'Codec':
        if name == JPEG:
            return cls(JPEG, 'uint8', JPEG)
        base, _, compression = name.partition('+')
        if base not in BASE_CODECS or compression not in COMPRESSIONS or (name.endswith('+')):
            raise UnknownCodec(f'unknown codec {name!r}; known: {", ".join(CODECS)}')
        return cls(name, BASE_CODECS[base], compression)

    @property
    def bytes_per_element(self) -> int:
        return DTYPES[self.dtype][1]


@dataclass(frozen=True)
class Limits:
    """Upper bounds a decoder enforces before allocating anything."""

    max_tensor_bytes: int = 64 << 20
    max_total_bytes: int = 256 << 20
    max_rank: int = 8
    max_tensors: int = 16


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class WireTensor:
    """A tensor as it travels: the fields of ``partnner_ros/msg/Tensor``."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int
    compression: str
    raw_size: int
    data: bytes


