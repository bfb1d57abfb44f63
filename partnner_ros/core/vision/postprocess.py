"""Model output to results: NMS and box rescale for detectors, top-k for classifiers."""

from dataclasses import dataclass

import torch
from torchvision.ops import batched_nms

from .preprocess import ImageMeta


@dataclass(frozen=True)
class Detection:
    """One detected object; the box is ``x1, y1, x2, y2`` in camera pixels."""

    class_id: int
    score: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class ClassScore:
    """One class of a classifier's top-k; the score is its softmax probability."""

    class_id: int
    score: float


@dataclass(frozen=True)
class DetectionSettings:
    """Detector postprocessing: score threshold ``conf`` (exclusive), NMS IoU ``iou``, at most ``max_det`` kept."""

    conf: float = 0.25
    iou: float = 0.7  # as ultralytics' predict()
    max_det: int = 300


def _finish(boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, meta: ImageMeta,
            settings: DetectionSettings) -> list[Detection]:
    keep = batched_nms(boxes, scores, classes, settings.iou)[:settings.max_det]
    cam = meta.to_camera(boxes[keep].numpy())
    return [Detection(int(c), float(s), tuple(float(v) for v in b))
            for b, s, c in zip(cam, scores[keep].tolist(), classes[keep].tolist())]


def yolo_detections(pred: torch.Tensor, meta: ImageMeta,
                    settings: DetectionSettings = DetectionSettings()) -> list[Detection]:
    """Detections from an ultralytics head output for one image.

    ``pred`` is ``1 x (4 + nc) x A`` (centre-size boxes then class scores), or
    ``1 x N x 6`` (``x1 y1 x2 y2 score class``) for end-to-end heads.
    """
    if pred.ndim != 3 or pred.shape[0] != 1:
        raise ValueError(f'expected a 1 x C x A prediction, got {tuple(pred.shape)}')
    pred = pred[0].float()
    if pred.shape[-1] == 6 and pred.shape[0] != 6:  # end-to-end: already NMS-free
        keep = pred[:, 4] > settings.conf
        p = pred[keep][:settings.max_det]
        cam = meta.to_camera(p[:, :4].numpy())
        return [Detection(int(c), float(s), tuple(float(v) for v in b))
                for b, s, c in zip(cam, p[:, 4].tolist(), p[:, 5].tolist())]
    pred = pred.T  # A x (4 + nc)
    scores, classes = pred[:, 4:].max(dim=1)
    keep = scores > settings.conf
    xywh, scores, classes = pred[keep, :4], scores[keep], classes[keep]
    boxes = torch.cat([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], dim=1)
    return _finish(boxes, scores, classes, meta, settings)


def ssd_detections(out: torch.Tensor, anchors: torch.Tensor, box_coder, meta: ImageMeta,
                   settings: DetectionSettings = DetectionSettings()) -> list[Detection]:
    """Detections from an SSD head output ``1 x A x (4 + C)``; class 0 is background."""
    if out.ndim != 3 or out.shape[0] != 1 or out.shape[1] != anchors.shape[0]:
        raise ValueError(f'expected a 1 x {anchors.shape[0]} x (4 + C) output, got {tuple(out.shape)}')
    out = out[0].float()
    boxes = box_coder.decode_single(out[:, :4], anchors)
    probs = torch.softmax(out[:, 4:], dim=-1)[:, 1:]
    anchor_idx, cls_idx = torch.nonzero(probs > settings.conf, as_tuple=True)
    scores = probs[anchor_idx, cls_idx]
    return _finish(boxes[anchor_idx], scores, cls_idx + 1, meta, settings)


def top_k(logits: torch.Tensor, k: int = 5) -> list[ClassScore]:
    """The ``k`` most probable classes of a ``1 x C`` logit tensor, best first."""
    if logits.ndim != 2 or logits.shape[0] != 1:
        raise ValueError(f'expected 1 x C logits, got {tuple(logits.shape)}')
    probs = torch.softmax(logits[0].float(), dim=0)
    values, indices = probs.topk(min(k, probs.numel()))
    return [ClassScore(int(i), float(v)) for v, i in zip(values.tolist(), indices.tolist())]
