"""A short hash that an edge and a cloud compare before they pair.

It covers the layer structure, every weight and buffer, and the input size, so
two processes holding different models (or the same model at another input
size) refuse each other's features.
"""

import hashlib
import sys

import torch
from torch import nn

from .graph import LayerGraph

FORMAT = b'partnner-fingerprint-1'


def fingerprint(graph: LayerGraph, module: nn.Module, input_shape: tuple[int, ...]) -> str:
    """A 16-hex-digit hash of the layer structure, every weight and buffer, and the input shape."""
    h = hashlib.blake2b(FORMAT, digest_size=8)
    h.update(repr(tuple(input_shape)).encode())
    for layer in graph.layers:
        h.update(f'{layer.name}|{layer.kind}|{layer.srcs};'.encode())
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f'{name}|{t.dtype}|{tuple(t.shape)};'.encode())
        if t.dtype == torch.bfloat16:
            t = t.float()
        data = t.numpy()
        if sys.byteorder != 'little' and data.dtype.itemsize > 1:
            data = data.byteswap()
        h.update(memoryview(data).cast('B'))
    return h.hexdigest()
