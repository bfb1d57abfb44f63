"""Checks on a Features message before any of it is used (by the cloud, whole or as
a pipeline stage): model fingerprint, split, codec, tensor names, dtypes and compression, and
the preprocessing metadata. Decoding then checks shapes and sizes. The message is read by
field name only, so the check needs no ROS.
"""

from .formats import Codec


class Rejected(Exception):
    """A Features message this node cannot serve; the message says why."""


def check_features(model, msg, stop: int) -> None:
    """Raise :class:`Rejected`, saying why, unless the message can be run on from its
    split to ``stop``.
    """
    if msg.model_fingerprint != model.fingerprint:
        raise Rejected(f'foreign model: fingerprint {msg.model_fingerprint!r}, this node serves '
                       f'{model.name} {model.fingerprint!r}')
    if msg.split >= stop or msg.split not in model.cut_facts:
        raise Rejected(f'split {msg.split} is not servable (0..{stop - 1})')
    codec = Codec.parse(msg.codec)
    if msg.split > 0 and codec.is_jpeg:
        raise Rejected(f'codec jpeg is only for split 0, got split {msg.split}')
    names = model.live_names(msg.split)
    got = [t.name for t in msg.tensors]
    if got != names:
        raise Rejected(f'split {msg.split} carries tensors {names}, got {got}')
    for t in msg.tensors:
        if t.compression != codec.compression or t.dtype != codec.dtype:
            raise Rejected(f'tensor {t.name!r} is {t.dtype}/{t.compression or "raw"}, '
                           f'but the message says codec {msg.codec}')
    if not (msg.image_width and msg.image_height and msg.scale_x > 0 and msg.scale_y > 0):
        raise Rejected('missing image size or scale (preprocessing metadata)')
