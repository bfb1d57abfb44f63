"""sensor_msgs/Image and CompressedImage to numpy, for every supported encoding."""

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image

from partnner_ros.nodes.image_conversion import (
    ENCODINGS,
    ImageConversionError,
    array_to_image,
    compressed_to_rgb8,
    image_to_array,
    image_to_rgb8,
)

H, W = 5, 7


def make(encoding, pixels, pad=0, bigendian=False):
    """An Image message written by hand (not by array_to_image), with row padding."""
    dtype, channels = ENCODINGS[encoding]
    arr = np.asarray(pixels, dtype=np.dtype(dtype).newbyteorder('>' if bigendian else '<'))
    row = arr.reshape(H, -1).view(np.uint8).reshape(H, -1)
    rows = np.concatenate([row, np.full((H, pad), 0xAB, np.uint8)], axis=1)
    msg = Image(height=H, width=W, encoding=encoding, is_bigendian=int(bigendian), step=rows.shape[1])
    msg.data = rows.tobytes()
    return msg


def pixels_for(encoding, seed=0):
    dtype, channels = ENCODINGS[encoding]
    rng = np.random.default_rng(seed)
    shape = (H, W) if channels == 1 else (H, W, channels)
    if dtype == np.float32:
        return rng.uniform(0.2, 9.5, shape).astype(np.float32)
    return rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)


@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
@pytest.mark.parametrize('pad', [0, 3, 16])
def test_every_encoding_with_padded_rows(encoding, pad):
    pixels = pixels_for(encoding)
    out = image_to_array(make(encoding, pixels, pad))
    assert out.dtype == pixels.dtype and np.array_equal(out, pixels)
    rgb = image_to_rgb8(make(encoding, pixels, pad))
    assert rgb.shape == (H, W, 3) and rgb.dtype == np.uint8


@pytest.mark.parametrize('encoding', ['mono16', '16UC1', '32FC1'])
def test_big_endian_data(encoding):
    pixels = pixels_for(encoding, seed=1)
    assert np.array_equal(image_to_array(make(encoding, pixels, 2, bigendian=True)), pixels)


def test_channel_order_to_rgb():
    rgb = pixels_for('rgb8')
    assert np.array_equal(image_to_rgb8(make('rgb8', rgb)), rgb)
    assert np.array_equal(image_to_rgb8(make('bgr8', rgb[:, :, ::-1])), rgb)
    rgba = np.concatenate([rgb, np.full((H, W, 1), 200, np.uint8)], axis=2)
    assert np.array_equal(image_to_rgb8(make('rgba8', rgba)), rgb)
    bgra = np.concatenate([rgb[:, :, ::-1], np.full((H, W, 1), 200, np.uint8)], axis=2)
    assert np.array_equal(image_to_rgb8(make('bgra8', bgra)), rgb)
    mono = pixels_for('mono8')
    assert np.array_equal(image_to_rgb8(make('mono8', mono)), np.repeat(mono[:, :, None], 3, axis=2))


def test_depth_is_scaled_to_the_full_8_bit_range():
    depth = np.linspace(500, 4000, H * W, dtype=np.float32).reshape(H, W)
    depth[0, 0] = np.nan
    gray = image_to_rgb8(make('32FC1', depth))[:, :, 0]
    assert gray[0, 1] == 0 and gray[-1, -1] == 255 and gray[0, 0] == 0


def test_round_trip_through_array_to_image():
    for encoding in ENCODINGS:
        pixels = pixels_for(encoding, seed=3)
        msg = array_to_image(pixels, encoding)
        assert msg.step == W * ENCODINGS[encoding][1] * np.dtype(ENCODINGS[encoding][0]).itemsize
        assert np.array_equal(image_to_array(msg), pixels)
    with pytest.raises(ImageConversionError, match='channel'):
        array_to_image(np.zeros((H, W), np.uint8), 'rgb8')


def test_corrupt_messages_are_rejected_with_a_reason():
    good = make('rgb8', pixels_for('rgb8'), pad=2)
    short = make('rgb8', pixels_for('rgb8'), pad=2)
    short.data = bytes(good.data)[:-1]
    with pytest.raises(ImageConversionError, match='data bytes, expected step'):
        image_to_rgb8(short)
    unknown = make('rgb8', pixels_for('rgb8'))
    unknown.encoding = 'yuv422_yuy2'
    with pytest.raises(ImageConversionError, match="unsupported image encoding 'yuv422_yuy2'"):
        image_to_rgb8(unknown)
    narrow = make('rgb8', pixels_for('rgb8'))
    narrow.step = W * 3 - 1
    with pytest.raises(ImageConversionError, match='shorter than'):
        image_to_rgb8(narrow)
    empty = Image(height=0, width=0, encoding='rgb8', step=0)
    with pytest.raises(ImageConversionError, match='empty'):
        image_to_rgb8(empty)


def test_compressed_images():
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[:, :24] = (255, 0, 0)
    ok, png = cv2.imencode('.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    msg = CompressedImage(format='png', data=png.tobytes())
    assert np.array_equal(compressed_to_rgb8(msg), rgb)
    with pytest.raises(ImageConversionError, match='does not decode'):
        compressed_to_rgb8(CompressedImage(format='jpeg', data=b'\xff\xd8garbage'))


@pytest.mark.parametrize('side', [20000, 30000])
def test_a_compressed_image_declaring_a_huge_size_is_refused_before_decoding(side):
    """Found by fuzzing: the edge decoded such a 334-byte JPEG (gigabytes, seconds) and served it as OK."""
    ok, jpeg = cv2.imencode('.jpg', np.zeros((16, 16, 3), np.uint8))
    data = jpeg.tobytes()
    at = data.index(b'\xff\xc0') + 5  # SOF0: marker, length, precision, then height and width
    bomb = data[:at] + side.to_bytes(2, 'big') * 2 + data[at + 4:]
    with pytest.raises(ImageConversionError, match=f'declares {side}x{side} pixels'):
        compressed_to_rgb8(CompressedImage(format='jpeg', data=bomb))
