"""Where camera frames come from when there is no camera: a video file, a folder
of images, the photos bundled with ultralytics, or synthetic frames.

Every source yields RGB uint8 frames (H x W x 3) and can rewind, for looping.
"""

import importlib.util
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def bundled_images() -> list[Path]:
    """The example photos shipped inside the ultralytics package (bus, zidane)."""
    spec = importlib.util.find_spec('ultralytics')
    if spec is None or not spec.origin:
        return []
    assets = Path(spec.origin).parent / 'assets'
    return sorted(p for p in assets.glob('*') if p.suffix.lower() in IMAGE_SUFFIXES)


def _read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f'cannot read image {path}')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class FrameSource:
    """``next()`` returns the next frame or None at the end; ``rewind()`` restarts."""

    description = ''

    def next(self) -> np.ndarray | None:
        """The next RGB uint8 frame (H x W x 3), or None at the end."""
        raise NotImplementedError

    def rewind(self) -> None:
        """Start again from the first frame."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the source holds open (nothing by default)."""
        pass


class ImageFiles(FrameSource):
    """The image files ``paths``, in order; raises ValueError when there are none."""

    def __init__(self, paths: list[Path], description: str):
        if not paths:
            raise ValueError(f'no images in {description}')
        self.paths, self.description, self._i = paths, description, 0

    def next(self):
        """The next image as RGB uint8; raises ValueError when a file cannot be read."""
        if self._i >= len(self.paths):
            return None
        self._i += 1
        return _read_rgb(self.paths[self._i - 1])

    def rewind(self):
        """Start again from the first image."""
        self._i = 0


class Video(FrameSource):
    """The frames of a video file; raises ValueError when OpenCV cannot open it."""

    def __init__(self, path: Path):
        self.path = path
        self.description = f'video {path}'
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            raise ValueError(f'cannot open video {path}')

    def next(self):
        """The next video frame as RGB uint8, or None at the end (or on a read error)."""
        ok, frame = self._cap.read()
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if ok else None

    def rewind(self):
        """Seek back to the first frame."""
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)

    def close(self):
        """Release the video file."""
        self._cap.release()


class Synthetic(FrameSource):
    """Deterministic moving shapes on a gradient: frame i is the same in every run."""

    def __init__(self, width: int = 640, height: int = 480):
        if width < 16 or height < 16:
            raise ValueError(f'synthetic frames need at least 16x16, got {width}x{height}')
        self.width, self.height = width, height
        self.description = f'synthetic {width}x{height}'
        yy, xx = np.mgrid[0:height, 0:width]
        self._background = np.stack([xx * 255 // max(1, width - 1), yy * 255 // max(1, height - 1),
                                     np.full_like(xx, 96)], axis=-1).astype(np.uint8)
        self._i = 0

    def next(self):
        """Synthetic frame i (RGB uint8); never ends."""
        i, w, h = self._i, self.width, self.height
        self._i += 1
        frame = self._background.copy()
        cx = int((0.5 + 0.35 * np.sin(i / 15)) * w)
        cy = int((0.5 + 0.3 * np.cos(i / 11)) * h)
        cv2.circle(frame, (cx, cy), max(4, min(w, h) // 8), (230, 40, 40), -1)
        x0 = (i * 7) % max(1, w - w // 5)
        cv2.rectangle(frame, (x0, h // 6), (x0 + w // 5, h // 6 + h // 4), (40, 200, 60), -1)
        return frame

    def rewind(self):
        """Restart at frame 0."""
        self._i = 0


def open_source(spec: str, width: int = 640, height: int = 480) -> FrameSource:
    """``bundled``, ``synthetic``, a folder of images, an image file, or a video file."""
    if spec in ('', 'bundled'):
        paths = bundled_images()
        if not paths:
            raise ValueError('no bundled images: ultralytics is not installed; use source:=synthetic')
        return ImageFiles(paths, 'the photos bundled with ultralytics')
    if spec == 'synthetic':
        return Synthetic(width, height)
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFiles(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                          f'folder {path}')
    if not path.exists():
        raise ValueError(f'camera source {spec!r}: no such file or folder '
                         '(use bundled, synthetic, a folder, an image or a video)')
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFiles([path], f'image {path}')
    return Video(path)
