"""How far a lossy codec moves a split model's results from its fp32 forward.

For each codec and each split it applies to (a JPEG codec at split 0 only, the image;
any other codec at 0 < k < n), the live tensors of the fp32 forward at the cut are
encoded with the codec, decoded, and the tail runs on them. Its results are compared
with those of the fp32 forward, over a few real photos:

- detectors: the detections of both runs at a low score threshold
  (:data:`DETECT_CONF`, so that models with seeded random weights still detect
  something) are matched greedily, highest IoU first, same class and IoU >=
  :data:`MATCH_IOU`. Per image the *agreement* is ``2 * matches / (n_ref + n_test)``
  (1.0 when both are empty), averaged over the images; the *score drift* is the mean
  absolute score difference of all matched pairs (0.0 without any).
- classifiers: *top1* is the share of images whose best class is unchanged, *top5*
  the mean overlap of the two top-5 sets, ``|A & B| / 5``, and the *score drift* the
  mean absolute change of the softmax probability of the fp32 run's best class.

The agreement (detectors) or top-1 (classifiers) is the figure a fidelity bound is
checked against. Codecs that decode to the same values (``fp16``, ``fp16+lz4`` and
``fp16+zstd``; ``jpeg`` and ``jpeg@90``: plain ``jpeg`` is measured at its default quality,
90) are measured once. :func:`for_profile` gives the lossless fp32 codecs their exact
figures without running them.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.ops import box_iou

from ..vision import postprocess
from ..vision.sources import Synthetic, bundled_images, open_source
from ..wire import codec as codecs
from ..wire.formats import Codec
from .graph import INPUT
from .zoo import SplitModel

DETECT_CONF = 0.05
MATCH_IOU = 0.5
TOP_K = 5
IMAGES = 4


@dataclass(frozen=True)
class Photo:
    """A named RGB image the fidelity is measured on."""

    name: str
    rgb: np.ndarray


def fidelity_images(count: int = IMAGES) -> list[Photo]:
    """``count`` deterministic photos: those bundled with ultralytics (bus, zidane), then their left
    halves, then their right halves (other scales and framings); synthetic frames without ultralytics.
    """
    if not bundled_images():
        source = Synthetic()
        return [Photo(f'synthetic {i}', source.next()) for i in range(count)]
    source = open_source('bundled')
    whole = [Photo(p.name, frame) for p in bundled_images() if (frame := source.next()) is not None]
    left = [Photo(f'{p.name} left half', np.ascontiguousarray(p.rgb[:, :p.rgb.shape[1] // 2])) for p in whole]
    right = [Photo(f'{p.name} right half', np.ascontiguousarray(p.rgb[:, p.rgb.shape[1] // 2:])) for p in whole]
    return (whole + left + right)[:count]


def _group(codec: str) -> tuple:
    """Codecs with the same group decode to the same values."""
    c = Codec.parse(codec)
    if c.is_jpeg:
        return ('jpeg', codecs.DEFAULT_JPEG_QUALITY if c.quality is None else c.quality)
    return (c.dtype,)


def applicable_splits(model: SplitModel, codec: str) -> list[int]:
    """The splits ``codec`` is measured at: 0 for a JPEG codec, else every usable 0 < k < n."""
    if Codec.parse(codec).is_jpeg:
        return [0]
    return [k for k in model.splits if 0 < k < model.num_layers]


def detection_agreement(ref: list, test: list, iou: float = MATCH_IOU) -> tuple[float, int, float]:
    """``(agreement, matches, sum of |score drift| over matches)`` of two detection lists: greedy
    matching, highest IoU first, of same-class pairs with IoU >= ``iou``.
    """
    if not ref and not test:
        return 1.0, 0, 0.0
    if not ref or not test:
        return 0.0, 0, 0.0
    ious = box_iou(torch.tensor([d.box for d in ref]), torch.tensor([d.box for d in test]))
    same = torch.tensor([d.class_id for d in ref])[:, None] == torch.tensor([d.class_id for d in test])[None, :]
    ious = torch.where(same, ious, torch.zeros(()))
    pairs = torch.nonzero(ious >= iou).tolist()
    pairs.sort(key=lambda p: -float(ious[p[0], p[1]]))
    used_ref, used_test, drift = set(), set(), 0.0
    for i, j in pairs:
        if i not in used_ref and j not in used_test:
            used_ref.add(i)
            used_test.add(j)
            drift += abs(ref[i].score - test[j].score)
    return 2 * len(used_ref) / (len(ref) + len(test)), len(used_ref), drift


def classification_agreement(ref_logits: torch.Tensor, test_logits: torch.Tensor,
                             k: int = TOP_K) -> tuple[float, float, float]:
    """``(top1, topk, drift)`` of two ``1 x C`` logit tensors: 1.0 if the best class is the same, the
    overlap of the two top-``k`` class sets over ``k``, and how far the softmax probability of the
    reference's best class moved.
    """
    ref, test = postprocess.top_k(ref_logits, k), postprocess.top_k(test_logits, k)
    best = ref[0].class_id
    a, b = {s.class_id for s in ref}, {s.class_id for s in test}
    test_prob = float(torch.softmax(test_logits[0].float(), dim=0)[best])
    return float(best == test[0].class_id), len(a & b) / len(ref), abs(ref[0].score - test_prob)


class _Tally:
    """Per (split, group) sums over the images, turned into the metrics at the end."""

    def __init__(self, model: SplitModel):
        self.model = model
        self.sums: dict[tuple[int, tuple], np.ndarray] = {}

    def results(self, output, meta):
        """What is compared of a model output: its logits (classifiers) or its detections."""
        if self.model.task == 'classify':
            return output
        return self.model.postprocess(output, meta, postprocess.DetectionSettings(conf=DETECT_CONF))

    def add(self, k: int, group: tuple, ref, test) -> None:
        """Count the comparison of one image's :meth:`results` at split ``k``."""
        if self.model.task == 'classify':
            top1, topk, drift = classification_agreement(ref, test)
            row = np.array([top1, topk, 1.0, drift])
        else:
            agreement, matches, drift = detection_agreement(ref, test)
            row = np.array([agreement, matches, 1.0, drift])
        self.sums[k, group] = self.sums.get((k, group), np.zeros(4)) + row

    def metrics(self, k: int, group: tuple) -> dict[str, float]:
        """The metrics of ``group`` at split ``k`` (see the module doc)."""
        a, b, images, drift = (float(v) for v in self.sums[k, group])
        if self.model.task == 'classify':
            return {'top1': round(a / images, 4), f'top{TOP_K}': round(b / images, 4),
                    'score_drift': round(drift / images, 5)}
        return {'agreement': round(a / images, 4), 'score_drift': round(drift / b if b else 0.0, 5)}


@torch.inference_mode()
def measure(model: SplitModel, codec_names: Sequence[str], images: Sequence[Photo] | None = None,
            splits: Sequence[int] | None = None) -> dict[int, dict[str, dict[str, float]]]:
    """``{split: {codec: metrics}}`` of every codec at every split it applies to (among ``splits``
    if given), over ``images`` (default :func:`fidelity_images`). Raises ValueError for an unknown
    codec name.
    """
    images = fidelity_images() if images is None else images
    wanted = set(model.splits if splits is None else splits)
    plan: dict[tuple, tuple[str, list[int]]] = {}
    for name in codec_names:
        plan.setdefault(_group(name), (name, [k for k in applicable_splits(model, name) if k in wanted]))
    tally = _Tally(model)
    for photo in images:
        x, meta = model.preprocess(photo.rgb)
        values = {INPUT: x}
        for i, layer in enumerate(model.graph.layers):
            values[i + 1] = layer.run(*[values[v] for v in layer.srcs])
        ref = tally.results(values[model.num_layers], meta)
        for group, (name, ks) in plan.items():
            for k in ks:
                live = model.graph.live(k)
                wire = [codecs.encode(f'v{v}', values[v], name) for v in live]
                out = model.tail(codecs.decode_all(wire, list(model.live_shapes(k, tuple(x.shape[2:])))), k)
                tally.add(k, group, ref, tally.results(out, meta))
    result: dict[int, dict[str, dict[str, float]]] = {}
    for name in codec_names:
        group = _group(name)
        for k in plan[group][1]:
            result.setdefault(k, {})[name] = tally.metrics(k, group)
    return result


def exact_metrics(task: str) -> dict[str, float]:
    """The metrics of a codec that changes nothing (what fp32 scores)."""
    if task == 'classify':
        return {'top1': 1.0, f'top{TOP_K}': 1.0, 'score_drift': 0.0}
    return {'agreement': 1.0, 'score_drift': 0.0}


def for_profile(model: SplitModel, codec_names: Sequence[str],
                images: Sequence[Photo] | None = None) -> tuple[dict[int, dict[str, dict[str, float]]], dict]:
    """:func:`measure` at every split, as a profile records it, and a summary: the images, the
    settings, the metric a bound is checked against and the seconds it took. The fp32 codecs are
    lossless (they decode to the very bits encoded), so they get :func:`exact_metrics` unmeasured.
    """
    started = time.perf_counter()
    images = fidelity_images() if images is None else images
    exact = [c for c in codec_names if Codec.parse(c).dtype == 'float32']
    per_split = measure(model, [c for c in codec_names if c not in exact], images)
    for name in exact:
        for k in applicable_splits(model, name):
            per_split.setdefault(k, {})[name] = exact_metrics(model.task)
    per_split = {k: {c: row[c] for c in codec_names if c in row} for k, row in sorted(per_split.items())}
    summary = {
        'images': [p.name for p in images],
        'metric': 'top1' if model.task == 'classify' else 'agreement',
        'detect_conf': DETECT_CONF, 'match_iou': MATCH_IOU, 'top_k': TOP_K,
        'lossless': exact,
        'seconds': round(time.perf_counter() - started, 3),
    }
    return per_split, summary
