"""What a model costs when it is cut into blocks: per-layer compute, parameters and
peak activations, and the bytes that cross every usable cut, from a profile or from
the model alone.
"""

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..model.profile_data import Profile

MB = 1e6
FP32_BYTES = 4


@dataclass
class ModelCosts:
    """Per-layer compute and memory, and the bytes that cross every usable cut.

    ``work_s`` is each layer's time on the reference machine (a device of speed 1):
    the profiled milliseconds, or the layer's MACs (plus element work) at a
    reference MAC rate. ``peak_bytes[i]`` is what layer ``i`` holds while it runs:
    the fp32 tensors live at its input cut plus its output. Where a cut is not
    usable its live set is not recorded, so there the tensors live at the last
    usable cut plus every output since are counted, an upper bound. A block's peak
    activation memory is the largest ``peak_bytes`` among its layers.
    """

    name: str
    work_s: np.ndarray          # per layer
    param_bytes: np.ndarray     # per layer
    peak_bytes: np.ndarray      # per layer
    transfer_bytes: np.ndarray  # per cut 0..n: bytes sent across it (nan where unusable, 0 at n)
    layer_names: tuple[str, ...]

    def __post_init__(self):
        self.work_s = np.asarray(self.work_s, dtype=float)
        self.param_bytes = np.asarray(self.param_bytes, dtype=float)
        self.peak_bytes = np.asarray(self.peak_bytes, dtype=float)
        self.transfer_bytes = np.asarray(self.transfer_bytes, dtype=float)
        n = self.num_layers
        if not (len(self.param_bytes) == len(self.peak_bytes) == len(self.layer_names) == n
                and len(self.transfer_bytes) == n + 1):
            raise ValueError('work, parameters, peaks and names need one value per layer, transfers one per cut')
        if np.isnan(self.transfer_bytes[0]) or self.transfer_bytes[n] != 0:
            raise ValueError('cut 0 must be usable and nothing crosses the last cut')

    @property
    def num_layers(self) -> int:
        """How many layers the model has (cuts run from 0 to this)."""
        return len(self.work_s)

    @property
    def cuts(self) -> np.ndarray:
        """The usable cuts, ascending, from 0 to num_layers."""
        return np.flatnonzero(~np.isnan(self.transfer_bytes))

    @classmethod
    def from_profile(cls, profile: dict, param_bytes, codec: str = 'fp32',
                     input_codec: str | None = None) -> 'ModelCosts':
        """From ``partnner profile --json``: profiled ms, and the payload of ``codec``
        at every cut (``input_codec`` at cut 0, e.g. jpeg). A profile does not
        record parameters: pass :func:`layer_param_bytes` of the model.
        """
        p = Profile.parse(profile)
        transfer = p.payloads(lambda k: (input_codec or codec) if k == 0 else codec).bytes
        return cls(p.model, p.layer_ms / 1e3, param_bytes,
                   _peaks(p.num_layers, {k: p.elements[k] for k in p.splits}, p.layer_out_shapes), transfer,
                   p.layer_names)

    @classmethod
    def from_model(cls, model, macs_per_s: float = 1e10, codec: str = 'fp32') -> 'ModelCosts':
        """From a SplitModel alone: each layer's weight (MACs plus element work, the
        policies' prior) at ``macs_per_s`` on the reference machine, and the raw
        payload of an uncompressed codec (fp32, fp16 or int8).
        """
        n = model.num_layers
        transfer = np.full(n + 1, np.nan)
        for k, facts in model.cut_facts.items():
            transfer[k] = facts.payload_bytes(codec) if k < n else 0.0
        return cls(model.name, [f.weight / macs_per_s for f in model.layer_facts], layer_param_bytes(model),
                   _peaks(n, {k: f.elements for k, f in model.cut_facts.items()},
                          [f.out_shape for f in model.layer_facts]),
                   transfer, tuple(f.name for f in model.layer_facts))


def _peaks(n: int, live_elements: dict[int, int], out_shapes) -> np.ndarray:
    out = np.array([FP32_BYTES * math.prod(s) if s else 0 for s in out_shapes], dtype=float)
    peaks = np.empty(n)
    live = FP32_BYTES * live_elements[0]
    for i in range(n):
        if i > 0:
            live = FP32_BYTES * live_elements[i] if i in live_elements else live + out[i - 1]
        peaks[i] = live + out[i]
    return peaks


def layer_param_bytes(model) -> np.ndarray:
    """Bytes of the parameters and buffers each layer reads, found by watching the
    tensors of one forward pass (so it holds for every capture path: fx nodes,
    ultralytics blocks, SSDlite stages). A tensor shared by two layers counts in
    both, since each stage that runs either needs its own copy.
    """
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    from ..model.graph import INPUT
    from ..model.zoo import sample_input

    owned = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
             for t in itertools.chain(model.module.parameters(), model.module.buffers())}

    class Reads(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.seen = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            for t in tree_leaves((args, kwargs or {})):
                if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() in owned:
                    self.seen.add(t.untyped_storage().data_ptr())
            return func(*args, **(kwargs or {}))

    env = {INPUT: sample_input(model.input_shape)}
    out = np.zeros(model.num_layers)
    with torch.inference_mode():
        for i, layer in enumerate(model.graph.layers):
            with Reads() as reads:
                env[i + 1] = layer.run(*[env[v] for v in layer.srcs])
            out[i] = sum(owned[p] for p in reads.seen)
    return out
