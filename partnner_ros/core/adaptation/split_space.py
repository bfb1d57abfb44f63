"""What a policy knows about a model without running it: its usable splits, the
relative compute weight of each layer, and the elements crossing each split, from
which the payload of each codec follows.
"""

from dataclasses import dataclass

import numpy as np

from ..model.profile_data import Profile
from ..wire.formats import JPEG, Codec

# Prior compressed size / raw size, until frames show the real ratio.
PRIOR_RATIO = {'': 1.0, 'lz4': 0.85, 'zstd': 0.75, JPEG: 0.1}


@dataclass
class SplitSpace:
    """A model's usable splits with per-layer compute weights and per-split element counts;
    raises ValueError when the arrays do not fit ``num_layers``, the splits leave [0, num_layers] or
    miss num_layers, or a codec name is unknown.
    """

    num_layers: int
    splits: tuple[int, ...]
    weights: np.ndarray   # per layer, relative compute (MACs plus element cost)
    elements: np.ndarray  # per split 0..n: elements of the live tensors (0 at n)
    codec: str = 'fp16+lz4'
    input_codec: str = 'jpeg'

    def __post_init__(self):
        self.weights = np.asarray(self.weights, dtype=float)
        self.elements = np.asarray(self.elements, dtype=float)
        self.splits = tuple(sorted(self.splits))
        if len(self.weights) != self.num_layers or len(self.elements) != self.num_layers + 1:
            raise ValueError('weights need one value per layer and elements one per split')
        if self.splits[0] < 0 or self.splits[-1] != self.num_layers:
            raise ValueError('splits must lie in [0, num_layers] and include num_layers')
        Codec.parse(self.codec)
        Codec.parse(self.input_codec)

    @classmethod
    def from_profile(cls, profile: dict, codec: str = 'fp16+lz4', input_codec: str = 'jpeg') -> 'SplitSpace':
        """The space of a ``partnner profile --json`` dict."""
        p = Profile.parse(profile)
        return cls(p.num_layers, p.splits, p.layer_weights, p.elements, codec, input_codec)

    @classmethod
    def from_model(cls, model, codec: str = 'fp16+lz4', input_codec: str = 'jpeg') -> 'SplitSpace':
        """The space of a loaded SplitModel (its splits, layer facts and cut facts)."""
        n = model.num_layers
        elements = np.zeros(n + 1)
        for k, facts in model.cut_facts.items():
            elements[k] = facts.elements if k < n else 0
        weights = np.array([f.weight for f in model.layer_facts], dtype=float)
        return cls(n, tuple(model.splits), weights, elements, codec, input_codec)

    def codec_for(self, split: int) -> str:
        """The codec name payloads at ``split`` use: the input codec at 0, else the feature codec."""
        return self.input_codec if split == 0 else self.codec

    def prior_bytes(self) -> np.ndarray:
        """Expected payload bytes per split 0..n before any frame was seen."""
        out = np.zeros(self.num_layers + 1)
        for k in range(self.num_layers):
            c = Codec.parse(self.codec_for(k))
            out[k] = self.elements[k] * c.bytes_per_element * PRIOR_RATIO[c.compression]
        return out
