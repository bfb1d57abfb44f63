"""Checks on a Features message before any of it is used (by the cloud, whole or as
a pipeline stage): model fingerprint, split, codec, tensor names, dtypes and compression, and
the preprocessing metadata. Decoding then checks shapes and sizes. The message is read by
field name only, so the check needs no ROS.
"""

import math

from .formats import MAX_PIXELS, Codec

MAX_SIDE = 65535  # pixels of a camera image's side, at most
MAX_SCALE = 1e4  # camera-to-input scale, at most (a 64 px camera for a 640 px model is 10)
MAX_MS = 1e7  # a duration the edge reports, at most (almost three hours)


class Rejected(Exception):
    """A Features message this node cannot serve. ``kind`` is one of a few fixed names (counted and logged
    once each: never text the sender chose); the message says why.
    """

    def __init__(self, kind: str, detail: str):
        super().__init__(f'{kind}: {detail}')
        self.kind = kind


def check_features(model, msg, stop: int) -> None:
    """Raise :class:`Rejected`, saying why, unless the message can be run on from its
    split to ``stop``.
    """
    if msg.model_fingerprint != model.fingerprint:
        raise Rejected('foreign model', f'fingerprint {msg.model_fingerprint!r}, this node serves '
                       f'{model.name} {model.fingerprint!r}')
    if msg.split >= stop or msg.split not in model.cut_facts:
        raise Rejected('split not servable', f'split {msg.split} (this node serves 0..{stop - 1})')
    codec = Codec.parse(msg.codec)
    if msg.split > 0 and codec.is_jpeg:
        raise Rejected('jpeg past split 0', f'codec jpeg is only for split 0, got split {msg.split}')
    names = model.live_names(msg.split)
    got = [t.name for t in msg.tensors]
    if got != names:
        raise Rejected('wrong tensors', f'split {msg.split} carries tensors {names}, got {got[:len(names) + 1]}')
    for t in msg.tensors:
        if t.compression != codec.compression or t.dtype != codec.dtype:
            raise Rejected('codec mismatch', f'tensor {t.name!r} is {t.dtype}/{t.compression or "raw"}, '
                           f'but the message says codec {msg.codec}')
    _check_metadata(msg)


def _check_metadata(msg) -> None:
    """The preprocessing metadata (image size, scale, pad) and the edge's durations are sane numbers."""
    w, h = msg.image_width, msg.image_height
    if not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE and w * h <= MAX_PIXELS):
        raise Rejected('bad image metadata', f'image size {w}x{h} (at most {MAX_SIDE} a side and '
                       f'{MAX_PIXELS / 1e6:.0f} MP)')
    for name in ('scale_x', 'scale_y'):
        value = getattr(msg, name)
        if not (math.isfinite(value) and 0 < value <= MAX_SCALE):
            raise Rejected('bad image metadata', f'{name} {value} (must be in (0, {MAX_SCALE:g}])')
    for name in ('pad_x', 'pad_y'):
        value = getattr(msg, name)
        if not (math.isfinite(value) and abs(value) <= MAX_SIDE):
            raise Rejected('bad image metadata', f'{name} {value} (must be within +-{MAX_SIDE})')
    durations = [msg.edge_queue_ms, msg.edge_preprocess_ms, msg.edge_compute_ms, msg.edge_encode_ms,
                 *msg.edge_layer_ms]
    if not all(math.isfinite(d) and 0 <= d <= MAX_MS for d in durations):
        raise Rejected('bad edge durations', f'edge durations must be in [0, {MAX_MS:g}] ms')
