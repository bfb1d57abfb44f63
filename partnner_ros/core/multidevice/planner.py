"""Throughput-optimal pipelines over several devices, without ROS: cut a model into
contiguous blocks of layers and run each block on a device of its own.

Every stage works on a different frame at once, so the pipeline delivers one frame
per *bottleneck* = max(slowest stage's compute, slowest link's transfer), the
objective of Feltin et al. (IEEE Access 2023) and Parthasarathy & Krishnamachari
(2022). A plan is feasible when each device holds its block's parameters plus the
block's peak activations (and, optionally, stays within an energy budget per frame).

Blocks start and end only at usable cuts (``ModelCosts.cuts``), so the search runs
over the segments between consecutive usable cuts; the exact algorithms are exact
on that problem. Each block goes to a distinct device, and links are independent
(no shared medium), as in both papers. The result (logits or boxes) is small and
its way back is not counted.
"""

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np

MB = 1e6
FP32_BYTES = 4


# --- what the model costs -----------------------------------------------------------------------
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
        n = profile['num_layers']
        transfer = np.full(n + 1, np.nan)
        elements = {}
        for cut in profile['cuts']:
            k = cut['split']
            elements[k] = cut['elements']
            if k == n:
                transfer[k] = 0.0
                continue
            c = (input_codec or codec) if k == 0 else codec
            if c not in cut['bytes']:
                raise ValueError(f"the profile of {profile['model']} has no {c} payload at cut {k}; "
                                 f'profile it with --codec {c}')
            transfer[k] = cut['bytes'][c]
        layers = profile['layers']
        return cls(profile['model'], [layer['ms'] / 1e3 for layer in layers], param_bytes,
                   _peaks(n, elements, [layer['out_shape'] for layer in layers]), transfer,
                   tuple(layer['name'] for layer in layers))

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


# --- the devices --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Device:
    """``speed``: how many times faster than the machine the costs were measured on.
    ``power_w``: drawn while computing, so a stage costs compute seconds x power_w
    joules per frame (energy per unit of compute); ``energy_budget_j`` caps that.
    """

    name: str
    speed: float = 1.0
    memory_bytes: float = math.inf
    power_w: float = 0.0
    energy_budget_j: float = math.inf

    def __post_init__(self):
        if not self.speed > 0 or not self.memory_bytes > 0:
            raise ValueError(f'device {self.name}: speed and memory must be positive')


@dataclass
class Cluster:
    """Devices and the bandwidth (bit/s) from device i to device j; 0 means no link.

    ``source`` is the device whose camera produces the frames: when the first stage
    runs elsewhere, sending it the input is a link like the others. Without a
    source the input is already at the first stage (the papers' setting).
    """

    devices: list[Device]
    bandwidth_bps: np.ndarray
    source: int | None = None

    def __post_init__(self):
        self.bandwidth_bps = np.asarray(self.bandwidth_bps, dtype=float)
        n = len(self.devices)
        if n == 0 or self.bandwidth_bps.shape != (n, n):
            raise ValueError(f'{n} devices need a {n}x{n} bandwidth matrix, got {self.bandwidth_bps.shape}')
        if len({d.name for d in self.devices}) != n:
            raise ValueError('device names must be unique')
        if self.source is not None and not 0 <= self.source < n:
            raise ValueError(f'source {self.source} is not a device')

    @classmethod
    def from_dict(cls, spec: dict) -> 'Cluster':
        """From the device file's YAML (see ``partnner plan --help``)::

        source: robot                  # optional: where the frames come from
        devices:
          - {name: robot, speed: 0.2, memory_mb: 512, power_w: 6, energy_budget_j: 0.5}
          - {name: laptop, speed: 1.0, memory_mb: 4096}
        links:                         # Mbit/s, both directions; unlisted pairs have no link
          - [robot, laptop, 20]
        # or instead of links, a full matrix (row: from, column: to):
        # bandwidth_mbps: [[0, 20], [20, 0]]
        """
        devices = []
        for d in spec.get('devices') or []:
            unknown = set(d) - {'name', 'speed', 'memory_mb', 'power_w', 'energy_budget_j'}
            if 'name' not in d or unknown:
                raise ValueError(f'device {d}: needs a name and knows only speed, memory_mb, power_w, '
                                 'energy_budget_j')
            devices.append(Device(str(d['name']), float(d.get('speed', 1.0)),
                                  float(d.get('memory_mb', math.inf)) * MB, float(d.get('power_w', 0.0)),
                                  float(d.get('energy_budget_j', math.inf))))
        index = {d.name: i for i, d in enumerate(devices)}

        def find(name):
            if name not in index:
                raise ValueError(f'no device named {name!r}; devices: {", ".join(index)}')
            return index[name]
        if 'bandwidth_mbps' in spec:
            bw = np.array(spec['bandwidth_mbps'], dtype=float) * 1e6
        else:
            bw = np.zeros((len(devices), len(devices)))
            for a, b, mbps in spec.get('links') or []:
                bw[find(a), find(b)] = bw[find(b), find(a)] = float(mbps) * 1e6
        source = spec.get('source')
        return cls(devices, bw, None if source is None else find(source))


# --- plans --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
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
        return self.param_bytes + self.peak_bytes


@dataclass(frozen=True)
class Plan:
    stages: tuple[Stage, ...]
    violations: tuple[str, ...] = ()  # why it is infeasible; empty when it is feasible

    @property
    def feasible(self) -> bool:
        return not self.violations

    @property
    def bottleneck_s(self) -> float:
        return max(max(s.compute_s, s.transfer_in_s) for s in self.stages)

    @property
    def throughput_fps(self) -> float:
        return 1.0 / self.bottleneck_s if self.bottleneck_s > 0 else math.inf

    def to_dict(self) -> dict:
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
        return {'algo': self.algo, 'solve_ms': self.seconds * 1e3, 'optimal': self.optimal,
                'lower_bound_ms': None if self.lower_bound_s is None else finite(self.lower_bound_s * 1e3),
                'gap': self.gap, 'nodes': self.nodes, 'reason': self.reason,
                'plan': self.plan.to_dict() if self.plan else None}


# --- the search space ---------------------------------------------------------------------------
class _Space:
    """Segments between usable cuts, and per start segment the stage time of every
    (end segment, device), infinite where the block breaks memory or energy.
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
        return evaluate(self.costs, self.cluster, [(d, self.cut[a], self.cut[b]) for d, a, b in path])

    def why_infeasible(self) -> str:
        worst = max(range(self.m), key=lambda s: self.params[s + 1] - self.params[s] + self.seg_peak[s])
        need = self.params[worst + 1] - self.params[worst] + self.seg_peak[worst]
        if need > self.memory.max():
            return (f'layers {self.cut[worst]}..{self.cut[worst + 1] - 1} cannot be split and need {need / MB:.1f} MB, '
                    f'more than any device has ({self.memory.max() / MB:.1f} MB)')
        if self.params[-1] > self.memory.sum():
            return (f'the parameters need {self.params[-1] / MB:.1f} MB, the devices hold '
                    f'{self.memory.sum() / MB:.1f} MB in all')
        return 'no chain of distinct devices holds every block within its memory and energy budget over existing links'


def _solution(algo, space, path, started, reason='', **kw) -> Solution:
    if path is None:
        return Solution(algo, None, time.perf_counter() - started, reason or space.why_infeasible(), **kw)
    return Solution(algo, space.plan(path), time.perf_counter() - started, **kw)


# --- exact: branch and bound --------------------------------------------------------------------
def branch_and_bound(costs: ModelCosts, cluster: Cluster, time_limit: float | None = None) -> Solution:
    """The plan with the smallest bottleneck over any number of stages (1 to the
    number of devices), each on a distinct device.

    The bound at a partial plan that ended a block at cut a on device d is the best
    completion when devices may be used again, computed once for every (a, d) by a
    backward min-max recursion; only the distinct-device rule is relaxed, so it is
    tight unless the best completion would revisit a device. Where it would, a
    second bound counts: the rest needs at least k more blocks (the fewest that can
    cover it), each entered over a link into a different unused device, so the k-th
    fastest such entry bounds it too. Children are tried best bound first and cut
    off at the incumbent. A branch is also dropped when its remaining parameters
    exceed the unused devices' memory, or when another branch reached the same cut
    on the same device with no larger bottleneck using a subset of its devices (it
    can finish every way this one can). With a time limit the best plan so far is
    returned with the smallest bound among the unexplored branches, so the gap is
    known.
    """
    started = time.perf_counter()
    sp = _Space(costs, cluster)
    m, nd = sp.m, sp.n_dev
    to_go = np.zeros((m + 1, nd))  # to_go[a, d]: best completion after a block ending at a on d (relaxed)
    bound_of: dict[int, np.ndarray] = {}  # per start a: (m - a) x devices, the bound through (b, e)
    for a in range(m - 1, -1, -1):
        bound_of[a] = np.maximum(sp.stage(a), to_go[a + 1:])
        if a > 0:
            to_go[a] = np.maximum(sp.links(a), bound_of[a].min(axis=0)[None, :]).min(axis=1)
    root_bound = float(np.maximum(sp.link(0, cluster.source), bound_of[0].min(axis=0)).min())
    # the fewest blocks that can cover the model from each cut on, jumping as far as any device reaches
    need = np.zeros(m + 1, int)
    for a in range(m - 1, -1, -1):
        reach = sp.ends(a)
        need[a] = need[reach] + 1 if reach > a else nd + 1
    # every block but the first is entered over a link into a distinct device, at best with the
    # fewest bits that cross any later cut over that device's widest incoming link
    fewest_bits = np.minimum.accumulate(sp.bits[:-1][::-1])[::-1]
    entry = sorted(range(nd), key=lambda x: sp.inv_bw[:, x].min())
    entry_inv = [float(sp.inv_bw[:, x].min()) for x in entry]

    def entries_bound(k, b, used):
        """The k-th fastest possible entry into an unused device over a cut at or after b."""
        for x, inv in zip(entry, entry_inv):
            if not used >> x & 1:
                k -= 1
                if k <= 0:
                    return fewest_bits[b] * inv
        return math.inf

    if need[0] > nd:
        root_bound = math.inf
    elif need[0] > 1:
        root_bound = max(root_bound, entries_bound(need[0] - 1, 1, 0))
    memory = [float(x) for x in sp.memory]
    best, best_path, nodes, timed_out = math.inf, None, 0, False
    deadline = None if time_limit is None else started + time_limit
    seen: dict[tuple[int, int], list[tuple[float, int]]] = {}  # (cut, device) -> (bottleneck, used mask) reached

    def frame(a, d, used, floor, cur, path):
        """A node of the search: its children (end, device) sorted best bound first, then longer block.
        ``floor`` bounds every completion from here; ``cur`` is the bottleneck so far.
        """
        vals = np.maximum(bound_of[a], np.maximum(sp.link(a, d), max(cur, floor))[None, :])
        vals[:, [x for x in range(nd) if used >> x & 1]] = np.inf
        bs, es = np.nonzero(vals < best)
        order = np.lexsort((-bs, vals[bs, es]))
        return [a, d, used, floor, cur, path, vals[bs, es][order], bs[order] + a + 1, es[order], 0]

    def dominated(b, e, used, value):
        """Another branch reached cut b on e as fast with a subset of these devices: it does at least as well."""
        reached = seen.setdefault((b, e), [])
        if any(v <= value and u & ~used == 0 for v, u in reached):
            return True
        reached.append((value, used))
        return False

    stack = [frame(0, cluster.source, 0, root_bound, 0.0, ())] if math.isfinite(root_bound) else []
    while stack:
        top = stack[-1]
        a, d, used, _, cur, path, vals, ends, devs, i = top
        if i >= len(vals) or vals[i] >= best:
            stack.pop()
            continue
        top[-1] += 1
        nodes += 1
        if deadline is not None and nodes % 64 == 0 and time.perf_counter() > deadline:
            top[-1] -= 1
            timed_out = True
            break
        b, e = int(ends[i]), int(devs[i])
        value = max(cur, float(sp.link(a, d)[e]), float(sp.stage(a)[b - a - 1, e]))
        if b == m:
            best, best_path = value, path + ((e, a, b),)
            if best <= root_bound:
                break
            continue
        child_used = used | 1 << e
        free = [x for x in range(nd) if not child_used >> x & 1]
        if len(free) < need[b] or sp.params[m] - sp.params[b] > sum(memory[x] for x in free):
            continue
        floor = entries_bound(need[b], b, child_used)
        if floor >= best or dominated(b, e, child_used, value):
            continue
        stack.append(frame(b, e, child_used, floor, value, path + ((e, a, b),)))

    if timed_out:
        lower = max(root_bound, min([best] + [f[6][f[9]] for f in stack if f[9] < len(f[6])]))
    else:
        lower = best if best_path is not None else root_bound
    return _solution('bnb', sp, best_path, started, lower_bound_s=lower,
                     optimal=bool(best_path is not None and lower >= best), nodes=nodes,
                     reason=f'no plan found within {time_limit} s' if timed_out and best_path is None else '')


# --- exact for a fixed device order: dynamic programming ----------------------------------------
def dynamic_programming(costs: ModelCosts, cluster: Cluster, order=None) -> Solution:
    """The best plan whose devices appear in ``order`` (default: the cluster's own
    order, e.g. robot, then edge box, then server). Devices may be skipped, so a
    stage may forward straight to any later device of the order.

    best[i][b]: the smallest bottleneck of a plan whose last block ends at segment b
    on the i-th device of the order; each entry takes the min over the previous
    device and start of the block of max(best before, link, stage): O(K^2 m + K m^2).
    """
    started = time.perf_counter()
    sp = _Space(costs, cluster)
    m = sp.m
    order = list(range(sp.n_dev) if order is None else order)
    best = np.full((len(order), m + 1), np.inf)
    prev = np.full((len(order), m + 1), -1)   # position in the order of the previous stage's device (-1: none)
    start = np.zeros((len(order), m + 1), int)  # the segment the last block starts at
    first = sp.link(0, cluster.source)
    for i, e in enumerate(order):
        best[i, 1:] = np.maximum(first[e], sp.stage(0)[:, e])
        for a in range(1, m) if i else ():
            before = np.maximum(best[:i, a], sp.links(a)[order[:i], e])
            j = int(np.argmin(before))
            if math.isinf(before[j]):
                continue
            vals = np.maximum(before[j], sp.stage(a)[:, e])
            better = np.flatnonzero(vals < best[i, a + 1:])
            best[i, a + 1 + better] = vals[better]
            prev[i, a + 1 + better] = j
            start[i, a + 1 + better] = a
    last = int(np.argmin(best[:, m]))
    if math.isinf(best[last, m]):
        return _solution('dp', sp, None, started)
    path, i, b = [], last, m
    while i >= 0:
        path.append((order[i], int(start[i, b]), b))
        i, b = int(prev[i, b]), int(start[i, b])
    return _solution('dp', sp, path[::-1], started)


# --- baselines ----------------------------------------------------------------------------------
def greedy(costs: ModelCosts, cluster: Cluster) -> Solution:
    """Fill each device to capacity, the placement paper's greedy joint
    partitioning-placement: start on the source (else on the device with the most
    memory), give it the longest block from the current cut that fits its memory and
    energy budget, then move to the unused device with the highest bandwidth from it
    that can hold the next segment. Compute speed is ignored. A source too small for
    the first segment only sends the input.
    """
    started = time.perf_counter()
    sp = _Space(costs, cluster)
    d = cluster.source if cluster.source is not None else int(np.argmax(sp.memory))
    used, path, a = {d}, [], 0
    while True:
        b = sp.ends(a, d)
        if b > a:
            path.append((d, a, b))
            a = b
        elif d != cluster.source or a > 0:
            return _solution('greedy', sp, None, started,
                             reason=f'{cluster.devices[d].name} cannot hold the next block')
        if a == sp.m:
            return _solution('greedy', sp, path, started)
        nxt = [e for e in np.argsort(-cluster.bandwidth_bps[d], kind='stable')
               if e not in used and cluster.bandwidth_bps[d, e] > 0 and sp.ends(a, e) > a]
        if not nxt:
            return _solution('greedy', sp, None, started,
                             reason=f'after layer {sp.cut[a] - 1} no unused device linked to '
                                    f'{cluster.devices[d].name} can hold the next block')
        d = int(nxt[0])
        used.add(d)


def random_plan(costs: ModelCosts, cluster: Cluster, rng: np.random.Generator, tries: int = 100) -> Solution:
    """The placement paper's random baseline: from the input on, pick a random unused
    device that can hold the next segment and is linked to the previous stage, give
    it a block ending at a uniformly random cut among those that fit, and go on;
    a dead end starts over (up to ``tries`` times).
    """
    started = time.perf_counter()
    sp = _Space(costs, cluster)
    for _ in range(tries):
        path, a, d, used = [], 0, cluster.source, set()
        while a < sp.m:
            link = sp.link(a, d)
            options = [e for e in range(sp.n_dev) if e not in used and np.isfinite(link[e]) and sp.ends(a, e) > a]
            if not options:
                break
            d = int(rng.choice(options))
            b = int(rng.integers(a + 1, sp.ends(a, d) + 1))
            path.append((d, a, b))
            used.add(d)
            a = b
        if a == sp.m:
            return _solution('random', sp, path, started)
    return _solution('random', sp, None, started, reason=f'no feasible random plan in {tries} tries')


def exhaustive(costs: ModelCosts, cluster: Cluster, order=None) -> Solution:
    """Every partition into contiguous blocks and every assignment to distinct
    devices (in ``order`` only, when given), through :func:`evaluate`. For tests on
    small instances: the count grows as 2^m x N!.
    """
    started = time.perf_counter()
    sp = _Space(costs, cluster)
    devices = range(sp.n_dev)
    best, best_path = math.inf, None
    for stages in range(1, min(sp.m, sp.n_dev) + 1):
        for inner in itertools.combinations(range(1, sp.m), stages - 1):
            bounds = (0, *inner, sp.m)
            if order is None:
                picks = itertools.permutations(devices, stages)
            else:
                picks = itertools.combinations(order, stages)
            for devs in picks:
                path = [(e, bounds[s], bounds[s + 1]) for s, e in enumerate(devs)]
                plan = sp.plan(path)
                if plan.feasible and plan.bottleneck_s < best:
                    best, best_path = plan.bottleneck_s, path
    return _solution('exhaustive', sp, best_path, started, optimal=best_path is not None and order is None)


ALGORITHMS = ('bnb', 'dp', 'greedy', 'random')


def solve(algo: str, costs: ModelCosts, cluster: Cluster, time_limit: float | None = None, seed: int = 0) -> Solution:
    if algo == 'bnb':
        return branch_and_bound(costs, cluster, time_limit)
    if algo == 'dp':
        return dynamic_programming(costs, cluster)
    if algo == 'greedy':
        return greedy(costs, cluster)
    if algo == 'random':
        return random_plan(costs, cluster, np.random.default_rng(seed))
    raise ValueError(f'unknown algorithm {algo!r}; choose from {", ".join(ALGORITHMS)}')


# --- the acceleration region --------------------------------------------------------------------
@dataclass
class Acceleration:
    """Whether any split beats the best single device, and by how much (Feltin et
    al.'s acceleration region, for one case). ``speedup`` is the best single
    device's bottleneck over the best plan's: 1 when no split helps, inf when no
    single device can run the model at all.
    """

    single: Plan | None
    best: Plan | None
    speedup: float
    helps: bool
    solution: Solution = field(repr=False)

    @property
    def verdict(self) -> str:
        if self.best is None:
            return f'no feasible plan: {self.solution.reason}'
        if self.single is None:
            return f'the model fits on no single device; splitting is required ({len(self.best.stages)} stages)'
        name = self.single.stages[0].device_name
        if not self.helps:
            return f'no split beats running everything on {name} ({self.single.bottleneck_s * 1e3:.1f} ms)'
        return (f'splitting helps: {self.speedup:.2f}x the throughput of the best single device '
                f'({name}, {self.single.bottleneck_s * 1e3:.1f} ms)')

    def to_dict(self) -> dict:
        return {'helps': self.helps, 'speedup': finite(self.speedup), 'verdict': self.verdict,
                'single_device': self.single.to_dict() if self.single else None}


def acceleration_region(costs: ModelCosts, cluster: Cluster, time_limit: float | None = None,
                        solution: Solution | None = None) -> Acceleration:
    """Compare the best single-device plan with the best plan (``solution``, a
    branch-and-bound result, is solved here when not given).
    """
    solution = solution or branch_and_bound(costs, cluster, time_limit)
    n = costs.num_layers
    singles = [p for p in (evaluate(costs, cluster, [(d, 0, n)]) for d in range(len(cluster.devices))) if p.feasible]
    single = min(singles, key=lambda p: p.bottleneck_s, default=None)
    best = solution.plan
    if best is None or single is None:
        return Acceleration(single, best, math.inf if best else 1.0, best is not None, solution)
    speedup = single.bottleneck_s / best.bottleneck_s
    return Acceleration(single, best, float(speedup), bool(len(best.stages) > 1 and speedup > 1 + 1e-9), solution)
