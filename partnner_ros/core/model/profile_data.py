"""A model profile (``partnner profile --json``) read once into arrays: the one reader
of that file for the simulator, the planner and the neurosurgeon policy. Imports no
torch, so the partition manager can use it.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# the fidelity a (split, codec) pair needs by default, in the task's bound metric (see Profile.fidelity)
DEFAULT_FIDELITY_BOUND = {'detect': 0.95, 'classify': 0.99}
FIDELITY_METRIC = {'detect': 'agreement', 'classify': 'top1'}


@dataclass(frozen=True)
class Payloads:
    """Per split 0..n: bytes on the wire (nan where the profile has no figures, 0 at n)
    and encode/decode ms.
    """

    bytes: np.ndarray
    encode_ms: np.ndarray
    decode_ms: np.ndarray


@dataclass(frozen=True)
class Profile:
    """Per-layer times and facts, and per cut what crosses it, as one machine measured them."""

    model: str
    num_layers: int
    splits: tuple[int, ...]     # the usable cuts, ascending, 0 and n included
    layer_ms: np.ndarray        # n: each layer's CPU time on the profiling machine
    layer_weights: np.ndarray   # n: MACs plus element work, the policies' prior
    layer_names: tuple[str, ...]
    layer_out_shapes: tuple[tuple[int, ...], ...]
    elements: np.ndarray        # n + 1: tensor elements crossing each cut (0 at n and where unusable)
    profile_seconds: float      # wall time of the profiling run
    preprocess_ms: float
    postprocess_ms: float
    cuts: dict[int, dict]       # split -> its entry, for per-codec figures
    task: str = 'detect'        # 'detect' or 'classify'

    @classmethod
    def parse(cls, data: dict) -> 'Profile':
        """Read a profile dict; ValueError names the first missing or inconsistent field."""
        try:
            n = int(data['num_layers'])
            layers, cuts = data['layers'], {int(c['split']): c for c in data['cuts']}
            if len(layers) != n or 0 not in cuts or n not in cuts or not set(cuts) <= set(range(n + 1)):
                raise ValueError(f'{len(layers)} layers and cuts {sorted(cuts)} for a {n}-layer model')
            elements = np.zeros(n + 1)
            for k, cut in cuts.items():
                elements[k] = cut['elements'] if k < n else 0
            layer_ms = np.array([float(layer['ms']) for layer in layers])
            return cls(
                str(data['model']), n, tuple(sorted(cuts)), layer_ms,
                np.array([float(layer['weight']) for layer in layers]),
                tuple(str(layer['name']) for layer in layers),
                tuple(tuple(layer['out_shape']) for layer in layers), elements,
                float(data.get('profile_seconds', 10 * layer_ms.sum() / 1e3)),
                float(data.get('preprocess_ms', 0.0)), float(data.get('postprocess_ms', 0.0)), cuts,
                str(data.get('task', 'detect')))
        except (KeyError, TypeError) as e:
            raise ValueError(f'not a partnner profile (partnner profile --json): {type(e).__name__} {e}') from None

    @classmethod
    def load(cls, path: str | Path) -> 'Profile':
        """Read a profile file; FileNotFoundError or ValueError say what is wrong."""
        try:
            return cls.parse(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as e:
            raise ValueError(f'{path}: not JSON ({e})') from None

    def payloads(self, codec_at: Callable[[int], str], strict: bool = True) -> Payloads:
        """Bytes and codec ms per split with ``codec_at(k)`` the codec at split k. With
        ``strict``, a usable split without that codec's figures is a ValueError;
        otherwise its bytes are nan.
        """
        n = self.num_layers
        size, enc, dec = np.full(n + 1, np.nan), np.zeros(n + 1), np.zeros(n + 1)
        size[n] = 0.0
        for k in self.splits[:-1]:
            cut, c = self.cuts[k], codec_at(k)
            if c in cut['bytes']:
                size[k], enc[k], dec[k] = cut['bytes'][c], cut['encode_ms'][c], cut['decode_ms'][c]
            elif strict:
                raise ValueError(f'the profile of {self.model} has no {c} figures at split {k}; '
                                 f'profile it with --codec {c}')
        return Payloads(size, enc, dec)

    @property
    def fidelity_bound(self) -> float:
        """The default bound on :meth:`fidelity` for this model's task (0.95 detectors, 0.99 classifiers)."""
        return DEFAULT_FIDELITY_BOUND.get(self.task, DEFAULT_FIDELITY_BOUND['detect'])

    def fidelity(self, split: int, codec: str) -> float | None:
        """How well results survive ``codec`` at ``split``, against fp32 (1.0: all agree): the detection
        agreement (detectors) or the top-1 agreement (classifiers) measured by the profiler. 1.0 at
        split n, where nothing crosses; None where it was not measured (the codec does not apply at
        that split, it was not profiled, the profile predates fidelity or was made with --no-fidelity).
        """
        if split == self.num_layers:
            return 1.0
        cut = self.cuts.get(split)
        metrics = (cut.get('fidelity') or {}).get(codec) if cut else None
        if not metrics:
            return None
        value = metrics.get(FIDELITY_METRIC.get(self.task, 'agreement'))
        return None if value is None else float(value)

    def fidelity_metrics(self, split: int, codec: str) -> dict[str, float]:
        """Every fidelity figure of ``codec`` at ``split`` (``agreement`` and ``score_drift``, or
        ``top1``, ``top5`` and ``score_drift``); empty where not measured.
        """
        cut = self.cuts.get(split)
        return dict((cut.get('fidelity') or {}).get(codec) or {}) if cut else {}
