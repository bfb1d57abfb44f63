"""What travels on the wire, without torch: codec names, the wire tensor, the
decoder's size limits and its errors. The adaptation side reads payload sizes
from here; :mod:`.codec` does the encoding and decoding.

Codec names are ``fp32``, ``fp16`` or ``int8``, optionally with ``+lz4`` or
``+zstd``, and JPEG for the image at split 0: ``jpeg`` at the caller's quality
(the edge's ``jpeg_quality``, 90 by default) or ``jpeg@Q`` at quality Q in 1..100.
A ``jpeg@Q`` image travels exactly as a ``jpeg`` one (dtype uint8, compression
jpeg): the quality only matters to the encoder.
"""

import io
import struct
from dataclasses import dataclass

import numpy as np
from PIL import JpegImagePlugin, PngImagePlugin

FP16_MAX = 65504.0

# wire dtype -> (numpy little-endian dtype, bytes per element)
DTYPES: dict[str, tuple[np.dtype, int]] = {
    'float32': (np.dtype('<f4'), 4),
    'float16': (np.dtype('<f2'), 2),
    'int8': (np.dtype('i1'), 1),
    'uint8': (np.dtype('u1'), 1),
}
BASE_CODECS = {'fp32': 'float32', 'fp16': 'float16', 'int8': 'int8'}
COMPRESSIONS = ('', 'lz4', 'zstd')
JPEG = 'jpeg'
JPEG_QUALITIES = range(1, 101)  # the Q of jpeg@Q
# the codec names without a quality; jpeg@Q names are made with jpeg_at(Q)
CODECS = tuple(base + (f'+{c}' if c else '') for base in BASE_CODECS for c in COMPRESSIONS) + (JPEG,)
# what a split policy may choose among, when it picks the codec with the split (within a fidelity bound):
FEATURE_CANDIDATES = ('fp16+lz4', 'int8+zstd')          # for the tensors at 0 < split < n
INPUT_CANDIDATES = ('jpeg@90', 'jpeg@75', 'jpeg@50')     # for the image at split 0
CANDIDATES = FEATURE_CANDIDATES + INPUT_CANDIDATES


def jpeg_at(quality: int) -> str:
    """The codec name of JPEG at ``quality`` (1..100), e.g. ``jpeg@75``; ValueError outside that range."""
    if not (isinstance(quality, int) and quality in JPEG_QUALITIES):
        raise ValueError(f'jpeg quality must be an integer in 1..100, got {quality!r}')
    return f'{JPEG}@{quality}'


class DecodeError(ValueError):
    """A payload that cannot be decoded safely; the message says what is wrong."""


class UnknownCodec(DecodeError):
    """A codec or compression name this version does not know."""

    pass


class UnknownDtype(DecodeError):
    """A dtype that is unknown or does not go with the declared compression."""

    pass


class ShapeMismatch(DecodeError):
    """A shape that is invalid or disagrees with the byte counts or the model's inputs."""

    pass


class TruncatedPayload(DecodeError):
    """Fewer data bytes than the header promises, or compressed data that does not inflate to them."""

    pass


class PayloadTooLarge(DecodeError):
    """A tensor or message beyond the :class:`Limits`, or far more data bytes than its tensor needs."""

    pass


class CorruptPayload(DecodeError):
    """Data that is internally inconsistent: bad int8 quantisation, zstd frame size, undecodable jpeg."""

    pass


@dataclass(frozen=True)
class Codec:
    """A wire codec name split into its dtype and compression (``'jpeg'`` and ``'jpeg@Q'`` are uint8
    with jpeg); ``quality`` is Q for ``jpeg@Q`` and None otherwise (plain ``jpeg`` takes the caller's).
    """

    name: str
    dtype: str
    compression: str
    quality: int | None = None

    @classmethod
    def parse(cls, name: str) -> 'Codec':
        """The codec called ``name`` (e.g. ``fp16+lz4``, ``jpeg@75``); raises UnknownCodec (a ValueError)
        for any other name, including a jpeg quality outside 1..100 or not written plainly (``jpeg@075``).
        """
        if name == JPEG:
            return cls(JPEG, 'uint8', JPEG)
        if name.startswith(JPEG + '@'):
            q = name[len(JPEG) + 1:]
            if not (q.isascii() and q.isdigit() and str(int(q)) == q and int(q) in JPEG_QUALITIES):
                raise UnknownCodec(f'unknown codec {name!r}: jpeg@Q needs a quality Q in 1..100')
            return cls(name, 'uint8', JPEG, int(q))
        base, _, compression = name.partition('+')
        if base not in BASE_CODECS or compression not in COMPRESSIONS or (name.endswith('+')):
            raise UnknownCodec(f'unknown codec {name!r}; known: {", ".join(CODECS)}, jpeg@Q (Q in 1..100)')
        return cls(name, BASE_CODECS[base], compression)

    @property
    def is_jpeg(self) -> bool:
        """Whether this is a JPEG codec (``jpeg`` or ``jpeg@Q``), which only the image at split 0 may use."""
        return self.compression == JPEG

    @property
    def bytes_per_element(self) -> int:
        """Raw bytes per tensor element before compression (1, 2 or 4)."""
        return DTYPES[self.dtype][1]


# the most pixels a camera image may have (8K is 33 MP): a larger one is refused before decoding
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class Limits:
    """Upper bounds a decoder enforces before allocating anything."""

    max_tensor_bytes: int = 64 << 20
    max_total_bytes: int = 256 << 20
    max_rank: int = 8
    max_tensors: int = 16
    max_abs_value: float = 1e6  # a decoded value, at most (features beyond it, or not finite, are garbage)


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


def image_size(data) -> tuple[int, int]:
    """(width, height) that an encoded image (JPEG or PNG) declares in its header, read without decoding it:
    a few hundred bytes can declare an image of gigabytes, so sizes are checked before any decoder
    allocates. Raises CorruptPayload when the data does not start as a JPEG or PNG image.
    """
    data = bytes(data)
    plugin = JpegImagePlugin.JpegImageFile if data[:2] == b'\xff\xd8' else \
        PngImagePlugin.PngImageFile if data[:8] == b'\x89PNG\r\n\x1a\n' else None
    if plugin is None:
        raise CorruptPayload('not a JPEG or PNG image')
    try:
        with plugin(io.BytesIO(data)) as image:  # the header only; Image.open would also refuse large sizes
            return image.size
    except (OSError, ValueError, SyntaxError, struct.error) as e:
        raise CorruptPayload(f'not a readable image header ({type(e).__name__})') from None
