"""Measure a split model on this machine: per-layer CPU time, and per cut the
payload bytes and encode/decode time of every codec and, once per model, the
fidelity of each lossy codec against fp32 (:mod:`.fidelity`).

The result is a plain dict (JSON-ready), the input of the simulator and the
planner: ``partnner profile MODEL --json``.
"""

import platform
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from ..wire import codec as codecs
from ..wire import formats
from .fidelity import for_profile as measure_fidelity
from .graph import INPUT
from .zoo import SplitModel, sample_input


def sample_image() -> np.ndarray | None:
    """A real photo (RGB) bundled with ultralytics, if it is installed."""
    try:
        import ultralytics
    except ImportError:
        return None
    path = Path(ultralytics.__file__).parent / 'assets' / 'bus.jpg'
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def model_input(model: SplitModel, image: np.ndarray | None = None) -> torch.Tensor:
    """The model input for ``image`` (else the photo bundled with ultralytics, else a deterministic synthetic
    image), at the model's square input size: a profile describes the model as its facts do, whatever the
    photo's aspect (a rect letterbox would follow it).
    """
    image = sample_image() if image is None else image
    if image is None:
        return sample_input(model.input_shape)
    return model.preprocess(cv2.resize(image, model.input_size[::-1], interpolation=cv2.INTER_AREA))[0]


@torch.inference_mode()
def time_layers(model: SplitModel, x: torch.Tensor, repeats: int = 5, warmup: int = 2) -> list[float]:
    """Median milliseconds of each layer over ``repeats`` forward passes."""
    graph = model.graph
    samples: list[list[float]] = [[] for _ in graph.layers]
    for r in range(warmup + repeats):
        env = {INPUT: x}
        for i, layer in enumerate(graph.layers):
            args = [env[v] for v in layer.srcs]
            t0 = time.perf_counter()
            env[i + 1] = layer.run(*args)
            dt = (time.perf_counter() - t0) * 1e3
            if r >= warmup:
                samples[i].append(dt)
    return [statistics.median(s) for s in samples]


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - t0) * 1e3


def _pre_post_ms(model: SplitModel, image: np.ndarray | None, output, repeats: int) -> tuple[float, float]:
    """Median ms of preprocessing ``image`` and of postprocessing the model's ``output``
    (0, 0 without an image).
    """
    if image is None:
        return 0.0, 0.0
    pre_ms = statistics.median(_timed(model.preprocess, image)[1] for _ in range(repeats))
    meta = model.preprocess(image)[1]
    post_ms = statistics.median(_timed(model.postprocess, output, meta)[1] for _ in range(repeats))
    return pre_ms, post_ms


def _cut_entry(model: SplitModel, k: int, layer_ms: list[float], env: dict, codec_names: list[str]) -> dict:
    """The profile entry of split k: what crosses it and, per codec, its bytes and encode/decode ms
    (``env``: every graph value of one forward pass).
    """
    facts = model.cut_facts[k]
    live = model.graph.live(k)
    entry: dict = {
        'split': k,
        'live': [{'name': f'v{v}', 'shape': list(s)} for v, s in zip(live, facts.shapes)],
        'elements': facts.elements,
        'head_macs': facts.head_macs,
        'tail_macs': facts.tail_macs,
        'head_weight': facts.head_weight,
        'tail_weight': facts.tail_weight,
        'edge_ms': sum(layer_ms[:k]),
        'cloud_ms': sum(layer_ms[k:]),
        'bytes': {}, 'encode_ms': {}, 'decode_ms': {},
    }
    if k < model.num_layers:
        for name in codec_names:
            if formats.Codec.parse(name).is_jpeg and k != 0:
                continue
            wire, enc_ms = _timed(lambda c=name: [codecs.encode(f'v{v}', env[v], c) for v in live])  # noqa: B023
            _, dec_ms = _timed(codecs.decode_all, wire)
            entry['bytes'][name] = sum(len(w.data) for w in wire)
            entry['encode_ms'][name] = round(enc_ms, 4)
            entry['decode_ms'][name] = round(dec_ms, 4)
    return entry


def default_codecs() -> list[str]:
    """What :func:`profile` measures by default: every codec name and the jpeg@Q candidates."""
    return list(dict.fromkeys(formats.CODECS + formats.CANDIDATES))


@torch.inference_mode()
def profile(model: SplitModel, codec_names: list[str] | None = None, repeats: int = 5,
            image: np.ndarray | None = None, fidelity: bool = True) -> dict:
    """Per-layer and per-cut measurements of ``model`` on this machine (ms, bytes), as the JSON-ready
    dict ``partnner profile --json`` writes; raises ValueError for an unknown codec name.

    With ``fidelity``, each cut's entry also gets ``fidelity``: ``{codec: metrics}`` for the codecs
    that apply there (see :mod:`.fidelity`), and the profile a ``fidelity`` summary (images,
    settings, seconds). ``profile_seconds`` is the timing part only, which is what re-profiling
    costs; the fidelity does not depend on the machine.
    """
    started = time.perf_counter()
    codec_names = list(codec_names or default_codecs())
    for name in codec_names:
        formats.Codec.parse(name)
    image = sample_image() if image is None else image
    x = model_input(model, image)
    layer_ms = time_layers(model, x, repeats)
    env = {INPUT: x}
    for i, layer in enumerate(model.graph.layers):
        env[i + 1] = layer.run(*[env[v] for v in layer.srcs])
    pre_ms, post_ms = _pre_post_ms(model, image, env[model.num_layers], repeats)
    cuts = [_cut_entry(model, k, layer_ms, env, codec_names) for k in model.splits]
    profile_seconds = time.perf_counter() - started
    summary = None
    if fidelity:
        del env
        per_split, summary = measure_fidelity(model, codec_names)
        for cut in cuts:
            cut['fidelity'] = per_split.get(cut['split'], {})
    return {
        'model': model.name,
        'task': model.task,
        'fingerprint': model.fingerprint,
        'random_weights': model.random_weights,
        'input_shape': list(model.input_shape),
        'num_layers': model.num_layers,
        'codecs': codec_names,
        'machine': {'cpu': platform.processor() or platform.machine(), 'threads': torch.get_num_threads(),
                    'torch': torch.__version__},
        'repeats': repeats,
        'profile_seconds': round(profile_seconds, 3),
        'total_ms': sum(layer_ms),
        'preprocess_ms': round(pre_ms, 4),
        'postprocess_ms': round(post_ms, 4),
        'layers': [{'index': f.index, 'name': f.name, 'kind': f.kind, 'macs': f.macs, 'weight': f.weight,
                    'out_shape': list(f.out_shape) if f.out_shape else None, 'ms': round(ms, 4)}
                   for f, ms in zip(model.layer_facts, layer_ms)],
        'cuts': cuts,
        'fidelity': summary,
    }


@torch.inference_mode()
def verify(model: SplitModel, splits: list[int] | None = None, x: torch.Tensor | None = None):
    """Yield ``(split, max_abs_diff, exact)`` for head + tail against the full forward."""
    x = model_input(model) if x is None else x
    full = model.forward(x)
    for k in splits if splits is not None else model.splits:
        out = model.tail(model.head(x, k), k)
        diff = float((out - full).abs().max()) if out.shape == full.shape else float('inf')
        yield k, diff, bool(out.shape == full.shape and torch.equal(out, full))
