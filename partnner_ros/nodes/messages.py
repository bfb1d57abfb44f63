"""Conversions between partnner_ros messages and core values."""

from ..core.vision.postprocess import ClassScore, Detection
from ..core.wire.formats import WireTensor
from ..msg import (
    Classification,
    Detection2D,
    Detection2DArray,
    FrameTiming,
    ObjectHypothesis,
    ObjectHypothesisWithPose,
    Tensor,
)


def wire_to_msg(t: WireTensor) -> Tensor:
    """An encoded tensor as the Tensor message that carries it in Features."""
    return Tensor(name=t.name, dtype=t.dtype, shape=list(t.shape), scale=float(t.scale),
                  zero_point=int(t.zero_point), compression=t.compression, raw_size=t.raw_size, data=t.data)


def msg_to_wire(t: Tensor) -> WireTensor:
    """A Tensor message as a WireTensor for decoding; its data is a view of the message's buffer."""
    return WireTensor(t.name, t.dtype, tuple(int(d) for d in t.shape), float(t.scale), int(t.zero_point),
                      t.compression, int(t.raw_size), memoryview(t.data))


def detections_msg(header, detections: list[Detection], label) -> Detection2DArray:
    """Detections (corner boxes x1, y1, x2, y2) as a Detection2DArray of centre/size boxes, one hypothesis
    each, class ids named by ``label``.
    """
    out = Detection2DArray(header=header)
    for d in detections:
        x1, y1, x2, y2 = d.box
        det = Detection2D(header=header)
        det.bbox.center.position.x = (x1 + x2) / 2
        det.bbox.center.position.y = (y1 + y2) / 2
        det.bbox.size_x = x2 - x1
        det.bbox.size_y = y2 - y1
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id = label(d.class_id)
        hyp.hypothesis.score = d.score
        det.results = [hyp]
        out.detections.append(det)
    return out


def classification_msg(header, classes: list[ClassScore], label) -> Classification:
    """The top classes as a Classification message, class ids named by ``label``."""
    return Classification(header=header, results=[ObjectHypothesis(class_id=label(c.class_id), score=c.score)
                                                  for c in classes])


def timing_msg(header, seq: int, fingerprint: str, split: int, codec: str, status: int, error: str = '',
               payload_bytes: int = 0, edge=(0.0, 0.0, 0.0, 0.0), cloud=(0.0, 0.0, 0.0, 0.0)) -> FrameTiming:
    """A frame's outcome record; ``edge`` is (queue, preprocess, compute, encode) ms and ``cloud`` is
    (queue, decode, compute, postprocess) ms.
    """
    msg = FrameTiming(header=header, status=status, error=error, frame_seq=seq, model_fingerprint=fingerprint,
                      split=split, codec=codec, payload_bytes=payload_bytes)
    msg.edge_queue_ms, msg.edge_preprocess_ms, msg.edge_compute_ms, msg.edge_encode_ms = map(float, edge)
    msg.cloud_queue_ms, msg.cloud_decode_ms, msg.cloud_compute_ms, msg.cloud_postprocess_ms = map(float, cloud)
    return msg
