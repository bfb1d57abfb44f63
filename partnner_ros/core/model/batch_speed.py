"""How much faster a model's tail runs per request when requests are batched, measured on this
machine: what a shared server gains by batching robots that resume at the same layer.
"""

import time

import numpy as np
import torch

from .zoo import SplitModel


def batch_gain(model: SplitModel, split: int, sizes=(1, 2, 4, 8), repeats: int = 7, seed: int = 0) -> dict:
    """Per batch size b: ``gain``, the time of b requests run one by one over their time as one batch, and
    ``ms_per_request`` batched. The two are timed in alternation, after a warm-up, and the medians of
    ``repeats`` pairs kept, so a machine that speeds up or slows down meanwhile favours neither.
    """
    torch.manual_seed(seed)
    with torch.no_grad():
        live = model.head(torch.rand(model.input_shape), split)
        out = {}
        for b in sizes:
            batched = [torch.cat([t] * b) for t in live]
            model.tail(batched, split)
            model.tail(live, split)
            ratios, batch_s = [], []
            for _ in range(repeats):
                one_by_one = _seconds(lambda: [model.tail(live, split) for _ in range(b)])  # noqa: B023
                together = _seconds(lambda: model.tail(batched, split))  # noqa: B023
                ratios.append(one_by_one / together)
                batch_s.append(together)
            out[b] = {'gain': float(np.median(ratios)), 'ms_per_request': float(np.median(batch_s)) / b * 1e3}
    return out


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
