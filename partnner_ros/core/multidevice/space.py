"""What the planners search over, and what they return.

Blocks start and end only at usable cuts (``ModelCosts.cuts``), so the search runs
over the segments between consecutive usable cuts; the exact algorithms are exact on
that problem. Each block goes to a distinct device.
"""

import time
from dataclasses import dataclass

import numpy as np

from .cluster import Cluster
from .costs import MB, ModelCosts
from .plan import Plan, evaluate, finite


@dataclass
class Solution:
    """What an algorithm found: a feasible plan, or None and the reason."""

    algo: str
    plan: Plan | None
    seconds: float
    reason: str = ''
    lower_bound_s: float | None = None  # proven (branch-and-bound): no plan is faster
    optimal: bool = False
    nodes: int = 0  # branches tried (branch-and-bound)

    @property
    def gap(self) -> float | None:
        """How far the plan may be above the optimum, relative to the proven bound."""
        if self.plan is None or not self.lower_bound_s:
            return None
        return self.plan.bottleneck_s / self.lower_bound_s - 1.0

    def to_dict(self) -> dict:
        """The solution for JSON, in ms, with its plan (None when there is none)."""
        return {'algo': self.algo, 'solve_ms': self.seconds * 1e3, 'optimal': self.optimal,
                'lower_bound_ms': None if self.lower_bound_s is None else finite(self.lower_bound_s * 1e3),
                'gap': self.gap, 'nodes': self.nodes, 'reason': self.reason,
                'plan': self.plan.to_dict() if self.plan else None}


class SearchSpace:
    """Segments between usable cuts, and per start segment the stage time of every
    (end segment, device), infinite where the block breaks memory or energy.

    A path is a list of ``(device, start segment, end segment)`` blocks.
    """

    def __init__(self, costs: ModelCosts, cluster: Cluster):
        self.costs, self.cluster = costs, cluster
        self.cut = costs.cuts
        self.m = len(self.cut) - 1
        self.n_dev = len(cluster.devices)
        self.work = np.concatenate([[0.0], np.cumsum(costs.work_s)])[self.cut]
        self.params = np.concatenate([[0.0], np.cumsum(costs.param_bytes)])[self.cut]
        self.seg_peak = np.maximum.reduceat(costs.peak_bytes, self.cut[:-1])
        self.bits = 8.0 * costs.transfer_bytes[self.cut]
        devs = cluster.devices
        self.speed = np.array([d.speed for d in devs])
        self.memory = np.array([d.memory_bytes for d in devs])
        self.power = np.array([d.power_w for d in devs])
        self.budget = np.array([d.energy_budget_j for d in devs])
        with np.errstate(divide='ignore'):
            self.inv_bw = np.where(cluster.bandwidth_bps > 0, 1.0 / cluster.bandwidth_bps, np.inf)
        np.fill_diagonal(self.inv_bw, np.inf)  # consecutive stages on one device would be one stage
        self._stage: dict[int, np.ndarray] = {}
        self._links: dict[int, np.ndarray] = {}

    def stage(self, a: int) -> np.ndarray:
        """Seconds of the block of segments [a, b) on each device, for b = a+1..m: (m - a) x devices."""
        if a not in self._stage:
            compute = (self.work[a + 1:] - self.work[a])[:, None] / self.speed[None, :]
            memory = self.params[a + 1:] - self.params[a] + np.maximum.accumulate(self.seg_peak[a:])
            ok = (memory[:, None] <= self.memory[None, :]) & (compute * self.power[None, :] <= self.budget[None, :])
            self._stage[a] = np.where(ok, compute, np.inf)
        return self._stage[a]

    def links(self, a: int) -> np.ndarray:
        """Seconds to send what crosses cut a from device i to device j: devices x devices."""
        if a not in self._links:
            with np.errstate(invalid='ignore'):
                out = self.bits[a] * self.inv_bw
            self._links[a] = np.where(np.isnan(out), np.inf, out)
        return self._links[a]

    def link(self, a: int, d: int | None) -> np.ndarray:
        """Seconds to send what crosses cut a from device d to each device (d None: the input is already there)."""
        if d is None:
            return np.zeros(self.n_dev)
        out = self.links(a)[d].copy()
        if a == 0:
            out[d] = 0.0  # the source runs the first stage itself
        return out

    def ends(self, a: int, d: int | None = None) -> int:
        """The last segment end b such that the block [a, b) is feasible on d, or on
        any device when d is None (a if there is none). Feasible ends form a prefix.
        """
        ok = np.isfinite(self.stage(a))
        ok = ok.any(axis=1) if d is None else ok[:, d]
        return a + int(np.argmin(ok)) if not ok.all() else self.m

    def plan(self, path) -> Plan:
        """The plan of a path, evaluated in layers rather than segments."""
        return evaluate(self.costs, self.cluster, [(d, self.cut[a], self.cut[b]) for d, a, b in path])

    def why_infeasible(self) -> str:
        """Why no plan exists: a segment no device can hold, too little memory in all, or else no chain of devices."""
        worst = max(range(self.m), key=lambda s: self.params[s + 1] - self.params[s] + self.seg_peak[s])
        need = self.params[worst + 1] - self.params[worst] + self.seg_peak[worst]
        if need > self.memory.max():
            return (f'layers {self.cut[worst]}..{self.cut[worst + 1] - 1} cannot be split and need {need / MB:.1f} MB, '
                    f'more than any device has ({self.memory.max() / MB:.1f} MB)')
        if self.params[-1] > self.memory.sum():
            return (f'the parameters need {self.params[-1] / MB:.1f} MB, the devices hold '
                    f'{self.memory.sum() / MB:.1f} MB in all')
        return 'no chain of distinct devices holds every block within its memory and energy budget over existing links'

    def solution(self, algo: str, path, started: float, reason: str = '', **kw) -> Solution:
        """What ``algo`` found since ``started`` (perf_counter): the plan of ``path``, or the reason there is none."""
        if path is None:
            return Solution(algo, None, time.perf_counter() - started, reason or self.why_infeasible(), **kw)
        return Solution(algo, self.plan(path), time.perf_counter() - started, **kw)
