"""Tensor codecs for the wire: fp32, fp16, int8 (per-tensor affine), optionally with
lz4 or zstd, and JPEG for the image at split 0 (``jpeg`` at the caller's quality,
``jpeg@Q`` at quality Q).

Decoding trusts nothing: dtype, compression, shape, byte counts and sizes are all
checked against each other and against :class:`Limits` before any data is
interpreted, and a failure raises a :class:`DecodeError` subclass that names the
problem. Nothing is ever unpickled.
"""

import sys

import cv2
import lz4.block
import numpy as np
import torch
import zstandard

from .formats import (
    COMPRESSIONS,
    DEFAULT_LIMITS,
    DTYPES,
    FP16_MAX,
    JPEG,
    Codec,
    CorruptPayload,
    Limits,
    PayloadTooLarge,
    ShapeMismatch,
    TruncatedPayload,
    UnknownCodec,
    UnknownDtype,
    WireTensor,
    image_size,
)

ZSTD_LEVEL = 3
DEFAULT_JPEG_QUALITY = 90


def _le_bytes(array: np.ndarray) -> bytes:
    if sys.byteorder != 'little' and array.dtype.itemsize > 1:
        array = array.byteswap()
    return array.tobytes()


def _compress(raw: bytes, compression: str) -> bytes:
    if compression == 'lz4':
        return lz4.block.compress(raw, store_size=False)
    if compression == 'zstd':
        return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)
    return raw


def quantize_int8(x: torch.Tensor) -> tuple[torch.Tensor, float, int]:
    """Per-tensor affine int8 over [min(x, 0), max(x, 0)]: |x - dequant(q)| <= scale / 2."""
    x_min, x_max = torch.aminmax(x)
    lo, hi = min(float(x_min), 0.0), max(float(x_max), 0.0)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError('int8 quantisation needs finite values')
    # float32, as Tensor.msg carries it: the receiver dequantises with the very scale used here
    scale = float(np.float32((hi - lo) / 255.0)) or 1.0
    zero_point = int(np.clip(round(-128 - lo / scale), -128, 127))
    q = torch.round(x / scale).add_(zero_point).clamp_(-128, 127).to(torch.int8)
    return q, scale, zero_point


def encode(name: str, tensor: torch.Tensor, codec: str | Codec,
           jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> WireTensor:
    """Encode one tensor. JPEG takes a 1 x 3 x H x W image with values in [0, 1], at the quality the
    codec names (``jpeg@Q``) or else at ``jpeg_quality``.
    """
    c = codec if isinstance(codec, Codec) else Codec.parse(codec)
    x = tensor.detach()
    shape = tuple(int(d) for d in x.shape)
    scale, zero_point = 0.0, 0
    if c.compression == JPEG:
        if len(shape) != 4 or shape[:2] != (1, 3):
            raise ValueError(f'jpeg encodes a 1 x 3 x H x W image, got {list(shape)}')
        rgb = x[0].mul(255.0).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        ok, buf = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality if c.quality is None else c.quality)])
        if not ok:
            raise ValueError('jpeg encoding failed')
        return WireTensor(name, 'uint8', shape, 0.0, 0, JPEG, int(np.prod(shape)), buf.tobytes())
    x = x.contiguous()
    if c.dtype == 'float32':
        raw = _le_bytes(x.float().numpy())
    elif c.dtype == 'float16':
        raw = _le_bytes(x.clamp(-FP16_MAX, FP16_MAX).to(torch.float16).numpy())
    else:
        q, scale, zero_point = quantize_int8(x.float())
        raw = q.numpy().tobytes()
    return WireTensor(name, c.dtype, shape, float(scale), zero_point, c.compression,
                      len(raw), _compress(raw, c.compression))


def error_bound(codec: str, tensor: torch.Tensor) -> float:
    """Largest absolute error ``decode(encode(tensor))`` may show, element-wise.

    fp32 is exact; fp16 rounds to 11 significant bits (and saturates at 65504);
    int8 is off by at most half a quantisation step. JPEG is lossy with no
    element-wise bound, so it returns ``inf``.
    """
    c = Codec.parse(codec)
    x = tensor.detach().float()
    if c.compression == JPEG:
        return float('inf')
    if c.dtype == 'float32':
        return 0.0
    amax = float(x.abs().max()) if x.numel() else 0.0
    if c.dtype == 'float16':
        return max(min(amax, FP16_MAX) * 2.0 ** -11, 2.0 ** -24) + max(0.0, amax - FP16_MAX)
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    step = (hi - lo) / 255.0 or 1.0
    return step / 2 * (1 + 1e-5) + amax * 1e-6


def _check_header(t: WireTensor, limits: Limits) -> int:
    """Validate everything but the data bytes; return the expected raw size."""
    if t.compression not in COMPRESSIONS and t.compression != JPEG:
        raise UnknownCodec(f'tensor {t.name!r}: unknown compression {t.compression!r}')
    if t.dtype not in DTYPES:
        raise UnknownDtype(f'tensor {t.name!r}: unknown dtype {t.dtype!r}; known: {", ".join(DTYPES)}')
    if (t.compression == JPEG) != (t.dtype == 'uint8'):
        raise UnknownDtype(f'tensor {t.name!r}: dtype {t.dtype!r} does not go with compression {t.compression!r}')
    if not 1 <= len(t.shape) <= limits.max_rank:
        raise ShapeMismatch(f'tensor {t.name!r}: rank {len(t.shape)} is outside 1..{limits.max_rank}')
    if any(d < 1 for d in t.shape):
        raise ShapeMismatch(f'tensor {t.name!r}: shape {list(t.shape)} has an empty dimension')
    expected = DTYPES[t.dtype][1]
    for d in t.shape:
        expected *= d
        if expected > limits.max_tensor_bytes:
            raise PayloadTooLarge(f'tensor {t.name!r}: shape {list(t.shape)} exceeds the '
                                  f'{limits.max_tensor_bytes} byte limit')
    if t.raw_size != expected:
        raise ShapeMismatch(f'tensor {t.name!r}: shape {list(t.shape)} of {t.dtype} is {expected} bytes, '
                            f'but raw_size says {t.raw_size}')
    if len(t.data) > max(expected + expected // 128 + 1024, 1024):
        raise PayloadTooLarge(f'tensor {t.name!r}: {len(t.data)} data bytes for a {expected} byte tensor')
    if t.dtype == 'int8' and not (np.isfinite(t.scale) and 0 < t.scale * 255 <= limits.max_abs_value
                                  and -128 <= t.zero_point <= 127):
        raise CorruptPayload(f'tensor {t.name!r}: invalid int8 quantisation scale={t.scale} '
                             f'zero_point={t.zero_point}')
    return expected


def _decompress(t: WireTensor, size: int) -> bytes | memoryview:
    if t.compression == '':
        if len(t.data) < size:
            raise TruncatedPayload(f'tensor {t.name!r}: {len(t.data)} of {size} data bytes')
        if len(t.data) > size:
            raise ShapeMismatch(f'tensor {t.name!r}: {len(t.data)} data bytes, but shape '
                                f'{list(t.shape)} of {t.dtype} is {size} bytes')
        return t.data
    try:
        if t.compression == 'lz4':
            raw = lz4.block.decompress(t.data, uncompressed_size=size)
        else:
            declared = zstandard.frame_content_size(t.data)
            if declared not in (-1, size):
                raise CorruptPayload(f'tensor {t.name!r}: zstd frame declares {declared} bytes, expected {size}')
            raw = zstandard.ZstdDecompressor().decompress(t.data, max_output_size=size)
    except (lz4.block.LZ4BlockError, zstandard.ZstdError) as e:
        raise TruncatedPayload(f'tensor {t.name!r}: {t.compression} data does not decompress '
                               f'to {size} bytes ({e})') from None
    if len(raw) != size:
        raise TruncatedPayload(f'tensor {t.name!r}: {t.compression} data gave {len(raw)} of {size} bytes')
    return raw


def decode(t: WireTensor, limits: Limits = DEFAULT_LIMITS) -> torch.Tensor:
    """Decode one tensor to float32 with its declared shape, or raise DecodeError."""
    size = _check_header(t, limits)
    if t.compression == JPEG:
        if len(t.shape) != 4 or t.shape[:2] != (1, 3):
            raise ShapeMismatch(f'tensor {t.name!r}: jpeg carries a 1 x 3 x H x W image, got {list(t.shape)}')
        try:
            width, height = image_size(t.data)
        except CorruptPayload as e:
            raise CorruptPayload(f'tensor {t.name!r}: not a decodable jpeg ({e})') from None
        if (height, width) != tuple(t.shape[2:]):
            raise ShapeMismatch(f'tensor {t.name!r}: jpeg header says {width}x{height}, '
                                f'shape says {t.shape[3]}x{t.shape[2]}')
        img = cv2.imdecode(np.frombuffer(t.data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise CorruptPayload(f'tensor {t.name!r}: not a decodable jpeg')
        if img.shape != (t.shape[2], t.shape[3], 3):
            raise ShapeMismatch(f'tensor {t.name!r}: jpeg is {img.shape[1]}x{img.shape[0]}, '
                                f'shape says {t.shape[3]}x{t.shape[2]}')
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)
        return torch.from_numpy(np.ascontiguousarray(rgb)).unsqueeze(0).float().div_(255.0)
    raw = _decompress(t, size)
    array = np.frombuffer(raw, DTYPES[t.dtype][0]).reshape(t.shape)
    if t.dtype == 'int8':  # bounded by the header's scale
        return (torch.from_numpy(array.astype(np.float32)) - t.zero_point).mul_(t.scale)
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder('='))
    x = torch.from_numpy(array.copy()).float()
    largest = float(x.abs().max())  # nan when any value is
    if not largest <= limits.max_abs_value:
        raise CorruptPayload(f'tensor {t.name!r}: values must be finite and within +-{limits.max_abs_value:g}, '
                             f'got {largest:g} (nan or inf: not finite)')
    return x


def decode_all(tensors: list[WireTensor], expected_shapes: list[tuple[int, ...]] | None = None,
               limits: Limits = DEFAULT_LIMITS) -> list[torch.Tensor]:
    """Decode a message's tensors, checking count, total size and (if given) shapes."""
    if len(tensors) > limits.max_tensors:
        raise PayloadTooLarge(f'{len(tensors)} tensors exceed the limit of {limits.max_tensors}')
    if expected_shapes is not None:
        if len(tensors) != len(expected_shapes):
            raise ShapeMismatch(f'expected {len(expected_shapes)} tensors, got {len(tensors)}')
        for t, want in zip(tensors, expected_shapes):
            if tuple(t.shape) != tuple(want):
                raise ShapeMismatch(f'tensor {t.name!r}: shape {list(t.shape)}, the model needs {list(want)}')
    total = sum(t.raw_size for t in tensors)
    if total > limits.max_total_bytes:
        raise PayloadTooLarge(f'{total} bytes of tensors exceed the limit of {limits.max_total_bytes}')
    return [decode(t, limits) for t in tensors]
