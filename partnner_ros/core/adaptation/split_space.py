"""What a policy knows about a model without running it: its usable splits, the
relative compute weight of each layer, and the elements crossing each split, from
which the payload of each codec follows; and which codecs it may choose at each
split (the candidates, less the pairs whose fidelity against fp32 is below the
bound).
"""

from dataclasses import dataclass, replace

import numpy as np

from ..model.profile_data import Profile
from ..wire.formats import FEATURE_CANDIDATES, INPUT_CANDIDATES, JPEG, Codec

# Prior compressed size / raw size, until frames show the real ratio.
PRIOR_RATIO = {'': 1.0, 'lz4': 0.85, 'zstd': 0.75, JPEG: 0.1}


def prior_ratio(codec: Codec) -> float:
    """Expected compressed / raw size: a JPEG at quality Q shrinks about as Q does (0.1 at 90)."""
    if codec.compression == JPEG and codec.quality is not None:
        return PRIOR_RATIO[JPEG] * (0.3 + 0.7 * codec.quality / 90)
    return PRIOR_RATIO[codec.compression]


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
    feature_codecs: tuple[str, ...] = ()  # what the policy may choose at 0 < k < n; empty: ``codec`` only
    input_codecs: tuple[str, ...] = ()    # what it may choose at k = 0; empty: ``input_codec`` only
    excluded: frozenset = frozenset()     # (split, codec) pairs below the fidelity bound

    def __post_init__(self):
        self.weights = np.asarray(self.weights, dtype=float)
        self.elements = np.asarray(self.elements, dtype=float)
        self.splits = tuple(sorted(self.splits))
        if len(self.weights) != self.num_layers or len(self.elements) != self.num_layers + 1:
            raise ValueError('weights need one value per layer and elements one per split')
        if self.splits[0] < 0 or self.splits[-1] != self.num_layers:
            raise ValueError('splits must lie in [0, num_layers] and include num_layers')
        for name in (self.codec, self.input_codec, *self.feature_codecs, *self.input_codecs):
            Codec.parse(name)

    @classmethod
    def from_profile(cls, profile: dict, codec: str = 'fp16+lz4', input_codec: str = 'jpeg',
                     choose_codecs: bool = False, bound: float | None = None) -> 'SplitSpace':
        """The space of a ``partnner profile --json`` dict. With ``choose_codecs``, the policy may also
        pick among the candidate codecs, at the splits where the profile measured them at a fidelity of
        at least ``bound`` (default: the profile's, 0.95 for detectors and 0.99 for classifiers); the
        default codecs stay allowed everywhere.
        """
        p = Profile.parse(profile)
        space = cls(p.num_layers, p.splits, p.layer_weights, p.elements, codec, input_codec)
        return space.with_codec_choice(p, bound) if choose_codecs else space

    def with_codec_choice(self, profile: Profile, bound: float | None = None) -> 'SplitSpace':
        """This space, letting the policy pick among the candidate codecs where ``profile`` (of the same
        model) measured them at a fidelity of at least ``bound`` (default: the profile's); the default
        codecs stay allowed everywhere. ValueError when the profile is of another model.
        """
        if profile.num_layers != self.num_layers:
            raise ValueError(f'the profile is of a {profile.num_layers}-layer model, this one has {self.num_layers}')
        bound = profile.fidelity_bound if bound is None else bound
        features = tuple(dict.fromkeys((self.codec, *FEATURE_CANDIDATES)))
        inputs = tuple(dict.fromkeys((self.input_codec, *INPUT_CANDIDATES)))
        excluded = set()
        for k in self.splits[:-1]:
            for c in inputs if k == 0 else features:
                fidelity = profile.fidelity(k, c) if k in profile.cuts else None
                good = fidelity is not None and fidelity >= bound and c in profile.cuts[k]['bytes']
                if c != self.codec_for(k) and not good:
                    excluded.add((k, c))
        return replace(self, feature_codecs=features, input_codecs=inputs, excluded=frozenset(excluded))

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
        """The default codec at ``split``: the input codec at 0, else the feature codec."""
        return self.input_codec if split == 0 else self.codec

    def codecs(self) -> tuple[str, ...]:
        """Every codec a policy may use at some split, defaults first."""
        names = (self.codec, self.input_codec, *self.feature_codecs, *self.input_codecs)
        return tuple(dict.fromkeys(names))

    def codec_allowed(self, split: int, codec: str) -> bool:
        """Whether a policy may send ``split``'s payload with ``codec``."""
        if split == 0:
            allowed = self.input_codecs or (self.input_codec,)
        else:
            allowed = self.feature_codecs or (self.codec,)
        return codec in allowed and (split, codec) not in self.excluded and split < self.num_layers

    def prior_bytes_for(self, codec: str) -> np.ndarray:
        """Expected payload bytes of ``codec`` per split 0..n before any frame was seen (0 at n)."""
        c = Codec.parse(codec)
        out = self.elements * c.bytes_per_element * prior_ratio(c)
        out[self.num_layers] = 0.0
        return out

    def prior_bytes(self) -> np.ndarray:
        """Expected payload bytes per split 0..n before any frame was seen."""
        out = self.prior_bytes_for(self.codec)
        out[0] = self.prior_bytes_for(self.input_codec)[0]
        return out
