"""Camera image to model input: letterbox, stretch or resize-and-crop.

Every function takes an RGB ``uint8`` image (H x W x 3) and returns the resized
image with an :class:`ImageMeta` that maps camera pixels to model-input pixels,
so detections can be mapped back.
"""

from dataclasses import dataclass

import cv2
import numpy as np
import torch

LETTERBOX_FILL = 114


@dataclass(frozen=True)
class ImageMeta:
    """``input = camera * scale + pad``, per axis, for a ``width`` x ``height`` camera image."""

    width: int
    height: int
    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float

    def to_camera(self, boxes: np.ndarray) -> np.ndarray:
        """Map N x 4 ``x1, y1, x2, y2`` boxes from input pixels to camera pixels, clipped."""
        out = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
        out[:, [0, 2]] = ((out[:, [0, 2]] - self.pad_x) / self.scale_x).clip(0, self.width)
        out[:, [1, 3]] = ((out[:, [1, 3]] - self.pad_y) / self.scale_y).clip(0, self.height)
        return out


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Accept H x W (mono), H x W x 1, H x W x 3 (RGB) or H x W x 4 (RGBA) uint8."""
    if image.dtype != np.uint8:
        raise ValueError(f'expected a uint8 image, got {image.dtype}')
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, :3])
    raise ValueError(f'expected an H x W x {{1,3,4}} image, got shape {image.shape}')


def _check_size(image: np.ndarray) -> tuple[int, int]:
    h, w = image.shape[:2]
    if h < 1 or w < 1:
        raise ValueError(f'empty image {w}x{h}')
    return h, w


def letterbox_shape(width: int, height: int, size: tuple[int, int], stride: int = 0) -> tuple[int, int]:
    """The (h, w) that :func:`letterbox` gives a ``width`` x ``height`` image: ``size``, or with ``stride``
    the resized image padded only up to multiples of it (ultralytics' rect letterbox, as ``predict``).
    """
    out_h, out_w = size
    if not stride:
        return out_h, out_w
    r = min(out_h / height, out_w / width)
    new_w, new_h = max(1, round(width * r)), max(1, round(height * r))
    return new_h + (out_h - new_h) % stride, new_w + (out_w - new_w) % stride


def letterbox(image: np.ndarray, size: tuple[int, int], stride: int = 0) -> tuple[np.ndarray, ImageMeta]:
    """Resize keeping the aspect ratio, and pad with grey, centred, to ``size`` (h, w), or with ``stride``
    only up to multiples of it (see :func:`letterbox_shape`). As ultralytics' LetterBox does.
    """
    h, w = _check_size(image)
    out_h, out_w = letterbox_shape(w, h, size, stride)
    r = min(size[0] / h, size[1] / w)
    new_w, new_h = max(1, round(w * r)), max(1, round(h * r))
    resized = image if (new_w, new_h) == (w, h) else cv2.resize(
        image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    left = round((out_w - new_w) / 2 - 0.1)
    top = round((out_h - new_h) / 2 - 0.1)
    out = cv2.copyMakeBorder(resized, top, out_h - new_h - top, left, out_w - new_w - left,
                             cv2.BORDER_CONSTANT, value=(LETTERBOX_FILL,) * 3)
    return out, ImageMeta(w, h, new_w / w, new_h / h, float(left), float(top))


def stretch(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, ImageMeta]:
    """Resize to ``size`` (h, w) without keeping the aspect ratio (SSD-style)."""
    h, w = _check_size(image)
    out_h, out_w = size
    out = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    return out, ImageMeta(w, h, out_w / w, out_h / h, 0.0, 0.0)


def resize_center_crop(image: np.ndarray, size: tuple[int, int],
                       short_side: int) -> tuple[np.ndarray, ImageMeta]:
    """Resize the short side to ``short_side``, then crop the centre ``size`` (h, w)."""
    h, w = _check_size(image)
    out_h, out_w = size
    r = short_side / min(h, w)
    new_w, new_h = max(out_w, round(w * r)), max(out_h, round(h * r))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    left, top = (new_w - out_w) // 2, (new_h - out_h) // 2
    out = np.ascontiguousarray(resized[top:top + out_h, left:left + out_w])
    return out, ImageMeta(w, h, new_w / w, new_h / h, float(-left), float(-top))


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """RGB uint8 H x W x 3 to a float 1 x 3 x H x W tensor in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).unsqueeze(0).float().div_(255.0)
