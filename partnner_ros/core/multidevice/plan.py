"""A pipeline plan: a model cut into contiguous blocks of layers, each block on a
device of its own, and what it costs.

Every stage works on a different frame at once, so the pipeline delivers one frame
per *bottleneck* = max(slowest stage's compute, slowest link's transfer), the
objective of Feltin et al. (IEEE Access 2023) and Parthasarathy & Krishnamachari
(2022). A plan is feasible when each device holds its block's parameters plus the
block's peak activations (and, optionally, stays within an energy budget per frame).
Links are independent (no shared medium), as in both papers. The result (logits or
boxes) is small and its way back is not counted.
"""

import math
from dataclasses import dataclass

import numpy as np

from .cluster import Cluster
from .costs import MB, ModelCosts


@dataclass(frozen=True)
class Stage:
    """One block of a plan: the layers a device runs, and its time, memory and energy per frame."""

    device: int
    device_name: str
    start: int  # first layer
    stop: int   # one past the last layer
    compute_s: float
    transfer_in_s: float  # sending this stage its input (0 where the data already is)
    param_bytes: float
    peak_bytes: float
    energy_j: float

    @property
    def memory_bytes(self) -> float:
        """What the device must hold: the block's parameters plus its peak activations."""
        return self.param_bytes + self.peak_bytes


@dataclass(frozen=True)
class Plan:
    """The stages in pipeline order, and the constraints they break (none when feasible)."""

    stages: tuple[Stage, ...]
    violations: tuple[str, ...] = ()  # why it is infeasible; empty when it is feasible

    @property
    def feasible(self) -> bool:
        """True when every block fits its device's memory and energy budget over existing links."""
        return not self.violations

    @property
    def bottleneck_s(self) -> float:
        """Seconds per frame once the pipeline is full: the slowest stage compute or input transfer."""
        return max(max(s.compute_s, s.transfer_in_s) for s in self.stages)

    @property
    def throughput_fps(self) -> float:
        """Frames per second once the pipeline is full (inf when no stage takes any time)."""
        return 1.0 / self.bottleneck_s if self.bottleneck_s > 0 else math.inf

    def to_dict(self) -> dict:
        """The plan for JSON, in ms and MB, with None where a time is infinite."""
        return {'bottleneck_ms': finite(self.bottleneck_s * 1e3), 'throughput_fps': finite(self.throughput_fps),
                'feasible': self.feasible, 'violations': list(self.violations),
                'stages': [{'device': s.device_name, 'layers': [s.start, s.stop], 'compute_ms': s.compute_s * 1e3,
                            'transfer_in_ms': finite(s.transfer_in_s * 1e3), 'memory_mb': s.memory_bytes / MB,
                            'param_mb': s.param_bytes / MB, 'peak_activation_mb': s.peak_bytes / MB,
                            'energy_j': s.energy_j} for s in self.stages]}


def evaluate(costs: ModelCosts, cluster: Cluster, blocks) -> Plan:
    """The plan that runs each ``(device, start, stop)`` block, in order, with its
    times, memory and energy; constraint breaches are listed, not raised.
    """
    blocks = [(int(d), int(a), int(b)) for d, a, b in blocks]
    n = costs.num_layers
    if not blocks or blocks[0][1] != 0 or blocks[-1][2] != n or any(
            b1 != a2 for (_, _, b1), (_, a2, _) in zip(blocks, blocks[1:])) or any(a >= b for _, a, b in blocks):
        raise ValueError(f'blocks must cover layers 0..{n} contiguously: {blocks}')
    if any(np.isnan(costs.transfer_bytes[a]) for _, a, _ in blocks):
        raise ValueError(f'blocks must start at usable cuts: {blocks}')
    if len({d for d, _, _ in blocks}) != len(blocks):
        raise ValueError(f'each block needs a device of its own: {blocks}')
    stages, violations = [], []
    prev = cluster.source
    for d, a, b in blocks:
        dev = cluster.devices[d]
        compute = costs.work_s[a:b].sum() / dev.speed
        transfer = (0.0 if prev is None or prev == d
                    else _transfer_s(costs.transfer_bytes[a], cluster.bandwidth_bps[prev, d]))
        stage = Stage(d, dev.name, a, b, compute, transfer, costs.param_bytes[a:b].sum(), costs.peak_bytes[a:b].max(),
                      compute * dev.power_w)
        if stage.memory_bytes > dev.memory_bytes:
            violations.append(f'{dev.name} needs {stage.memory_bytes / MB:.1f} MB for layers {a}..{b - 1}, '
                              f'has {dev.memory_bytes / MB:.1f} MB')
        if stage.energy_j > dev.energy_budget_j:
            violations.append(f'{dev.name} spends {stage.energy_j:.3g} J per frame, its budget is '
                              f'{dev.energy_budget_j:.3g} J')
        if math.isinf(transfer):
            violations.append(f'no link from {cluster.devices[prev].name} to {dev.name}')
        stages.append(stage)
        prev = d
    return Plan(tuple(stages), tuple(violations))


def finite(x):
    """``x``, or None where it is infinite (JSON has no infinity)."""
    return x if x is None or math.isfinite(x) else None


def _transfer_s(nbytes: float, bps: float) -> float:
    return 8.0 * nbytes / bps if bps > 0 else math.inf
