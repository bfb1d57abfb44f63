"""sensor_msgs/Image and CompressedImage to and from numpy.

ROS 2's own cv_bridge is used when it is importable (a real ROS install). Without
it (the PyPI wheels), the same conversion is done here. The PyPI "cv-bridge"
package is a broken ROS 1 port and must never be installed.

Every message is validated first (encoding, sizes, step, data length), and a bad
one raises :class:`ImageConversionError` naming the problem.
"""

import cv2
import numpy as np

from ..core.wire.formats import MAX_PIXELS, DecodeError, image_size

# encoding -> (numpy dtype, channels)
ENCODINGS = {
    'rgb8': (np.uint8, 3), 'bgr8': (np.uint8, 3), 'rgba8': (np.uint8, 4), 'bgra8': (np.uint8, 4),
    'mono8': (np.uint8, 1), '8UC1': (np.uint8, 1), '8UC3': (np.uint8, 3),
    'mono16': (np.uint16, 1), '16UC1': (np.uint16, 1), '32FC1': (np.float32, 1),
}


class ImageConversionError(ValueError):
    """An image message that cannot be converted: unsupported encoding, inconsistent sizes, or undecodable."""


def _ros2_cv_bridge():
    try:
        # Only ROS 2's cv_bridge has the compiled boost module; the PyPI ROS 1 port does not.
        from cv_bridge import CvBridge
        from cv_bridge.boost import cv_bridge_boost  # noqa: F401
    except ImportError:
        return None
    return CvBridge()


_BRIDGE = _ros2_cv_bridge()


def _check(msg) -> tuple[np.dtype, int]:
    if msg.encoding not in ENCODINGS:
        raise ImageConversionError(f'unsupported image encoding {msg.encoding!r}; supported: '
                                   f'{", ".join(ENCODINGS)}')
    dtype, channels = ENCODINGS[msg.encoding]
    row = msg.width * channels * np.dtype(dtype).itemsize
    if msg.height < 1 or msg.width < 1:
        raise ImageConversionError(f'empty image {msg.width}x{msg.height}')
    if msg.step < row:
        raise ImageConversionError(f'step {msg.step} is shorter than a {msg.width}-pixel {msg.encoding} row '
                                   f'({row} bytes)')
    if len(msg.data) != msg.step * msg.height:
        raise ImageConversionError(f'{len(msg.data)} data bytes, expected step {msg.step} x height '
                                   f'{msg.height} = {msg.step * msg.height}')
    return np.dtype(dtype), channels


def image_to_array(msg) -> np.ndarray:
    """The pixels in the message's own encoding: H x W (one channel) or H x W x C."""
    dtype, channels = _check(msg)
    if _BRIDGE is not None:
        return np.ascontiguousarray(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding='passthrough'))
    buf = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)
    row = buf[:, :msg.width * channels * dtype.itemsize]
    wire = dtype.newbyteorder('>' if msg.is_bigendian else '<')
    pixels = np.ascontiguousarray(row).view(wire).astype(dtype, copy=False)
    shape = (msg.height, msg.width) if channels == 1 else (msg.height, msg.width, channels)
    return np.ascontiguousarray(pixels.reshape(shape))


def _to_gray8(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, np.uint8)
    lo, hi = float(values[finite].min()), float(values[finite].max())
    scaled = (np.where(finite, values, lo) - lo) * (255.0 / (hi - lo) if hi > lo else 0.0)
    return scaled.astype(np.uint8)


def image_to_rgb8(msg) -> np.ndarray:
    """RGB uint8 H x W x 3 for the model. 16-bit and float images (e.g. depth) are
    min-max scaled to 8 bits per frame.
    """
    pixels = image_to_array(msg)
    enc = msg.encoding
    if enc == 'rgb8':
        return pixels
    if enc in ('bgr8', '8UC3'):
        return np.ascontiguousarray(pixels[:, :, ::-1])
    if enc == 'rgba8':
        return np.ascontiguousarray(pixels[:, :, :3])
    if enc == 'bgra8':
        return np.ascontiguousarray(pixels[:, :, 2::-1])
    gray = pixels if pixels.dtype == np.uint8 else _to_gray8(pixels)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


def compressed_to_rgb8(msg) -> np.ndarray:
    """Decode a CompressedImage (jpeg or png) to RGB uint8; its header's size is checked first (at most
    ``MAX_PIXELS``), so a small file that declares a huge image is refused before anything is allocated.
    """
    try:
        width, height = image_size(msg.data)
    except DecodeError as e:
        raise ImageConversionError(f'compressed image ({msg.format or "no format"}, {len(msg.data)} bytes) '
                                   f'does not decode: {e}') from None
    if width * height > MAX_PIXELS:
        raise ImageConversionError(f'compressed image declares {width}x{height} pixels, over the '
                                   f'{MAX_PIXELS / 1e6:.0f} MP a camera image may have')
    image = cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_COLOR) if len(msg.data) else None
    if image is None:
        raise ImageConversionError(f'compressed image ({msg.format or "no format"}, {len(msg.data)} bytes) '
                                   'does not decode')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def array_to_image(array: np.ndarray, encoding: str, header=None):
    """A sensor_msgs/Image holding ``array`` (laid out as ``encoding`` says)."""
    from sensor_msgs.msg import Image
    if encoding not in ENCODINGS:
        raise ImageConversionError(f'unsupported image encoding {encoding!r}')
    dtype, channels = ENCODINGS[encoding]
    array = np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder('<'))
    if array.ndim not in (2, 3) or (array.shape[2] if array.ndim == 3 else 1) != channels:
        raise ImageConversionError(f'{encoding} needs {channels} channel(s), got shape {array.shape}')
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = array.shape[:2]
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = msg.width * channels * array.dtype.itemsize
    msg.data = array.tobytes()
    return msg
