"""Per-layer and per-cut facts of a split model, known without profiling a platform.

One forward pass over a sample input records each layer's output shape and its
multiply-accumulates (MACs, counted by torch's FlopCounterMode). From those come,
for every cut, the live tensor shapes, the payload bytes of each uncompressed
codec, and the head's and tail's relative compute weight.
"""

from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..wire.formats import BASE_CODECS, DTYPES
from .graph import INPUT, LayerGraph

# Relative cost of touching one output element, in MACs. Element-wise and memory
# bound layers (activations, adds, pooling, concat) cost far more per element
# than a MAC in a convolution; 4 fits CPU measurements of the zoo models well
# enough for a prior, and the adaptive policy refines per-layer costs online.
ELEMENT_COST_MACS = 4


@dataclass(frozen=True)
class LayerFacts:
    """Layer ``index``: its MACs, output shape and relative compute weight (MACs plus element cost)."""

    index: int
    name: str
    kind: str
    macs: int
    out_shape: tuple[int, ...] | None  # None when the output is not a tensor
    weight: float


@dataclass(frozen=True)
class CutFacts:
    """Cut ``split``: the head ran layers ``[0, split)``."""

    split: int
    live: tuple[int, ...]
    shapes: tuple[tuple[int, ...], ...]
    elements: int
    head_macs: int
    tail_macs: int
    head_weight: float
    tail_weight: float

    def payload_bytes(self, codec_base: str) -> int:
        """Data bytes of the live tensors under an uncompressed codec (fp32, fp16, int8)."""
        return self.elements * DTYPES[BASE_CODECS[codec_base]][1]


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


@torch.inference_mode()
def measure_facts(graph: LayerGraph, sample: torch.Tensor) -> tuple[list[LayerFacts], list[CutFacts]]:
    """Run ``sample`` through ``graph`` once and derive layer and cut facts.

    Cuts whose live values are not all tensors (rare: fx nodes that produce
    tuples or sizes) get no CutFacts and cannot be used as splits, except the
    final cut, which carries the model output and is never sent.
    """
    shapes: dict[int, tuple[int, ...] | None] = {INPUT: tuple(sample.shape)}
    layers = []
    env = {INPUT: sample}
    for i, layer in enumerate(graph.layers):
        counter = FlopCounterMode(display=False)
        with counter:
            produced = env[i + 1] = layer.run(*[env[v] for v in layer.srcs])
        shape = tuple(produced.shape) if isinstance(produced, torch.Tensor) else None
        shapes[i + 1] = shape
        macs = counter.get_total_flops() // 2
        elements = _numel(shape) if shape else 0
        layers.append(LayerFacts(i, layer.name, layer.kind, macs, shape, macs + ELEMENT_COST_MACS * elements))
    total_macs = sum(f.macs for f in layers)
    total_weight = sum(f.weight for f in layers)
    cuts = []
    head_macs, head_weight = 0, 0.0
    for k in range(graph.n + 1):
        live = graph.live(k)
        live_shapes = [shapes[v] for v in live]
        if k == graph.n or all(s is not None for s in live_shapes):
            tensor_shapes = tuple(s for s in live_shapes if s is not None)
            cuts.append(CutFacts(k, live, tensor_shapes, sum(_numel(s) for s in tensor_shapes),
                                 head_macs, total_macs - head_macs, head_weight, total_weight - head_weight))
        if k < graph.n:
            head_macs += layers[k].macs
            head_weight += layers[k].weight
    return layers, cuts
