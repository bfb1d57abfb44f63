"""Trace-driven simulator: every policy sees the frames it would really see.

A camera produces frames at ``fps``; the pipeline serves one frame at a time and
takes the newest waiting frame when it is free (latest-frame semantics; skipped
frames count as dropped). A frame served at split k from time s costs:

* edge: preprocessing and layers [0, k) from the measured profile (and the
  postprocessing at k = n), times the platform's edge slowdown and the edge load
  at s, plus encoding;
* upload: the payload through the bandwidth trace from the moment it is sent
  (the trace's rate while it is in transit), plus the one-way delay;
* cloud: layers [k, n) and the postprocessing, times the cloud load when the
  payload arrives, plus decoding; then the small result comes back the same way.

Compute times carry per-frame log-normal noise, drawn per frame index so that
every policy meets the same noise. Policies get the same FrameRecord the live
manager builds (durations only), and the same shadow probes and pings; a probe's
work holds the pipeline until it is done, so probing costs latency as it does
live. The oracle knows every frame's true costs and is the bound.
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..adaptation.frames import FrameRecord, Status
from ..adaptation.policies import Neurosurgeon, Policy, make_policy
from ..adaptation.split_space import SplitSpace
from .traces import Steps, Trace


@dataclass
class SimProfile:
    """A model as ``partnner profile --json`` measured it, for one codec."""

    name: str
    space: SplitSpace
    layer_ms: np.ndarray
    bytes: np.ndarray      # per split 0..n (nan where unusable, 0 at n)
    encode_ms: np.ndarray
    decode_ms: np.ndarray
    profile_seconds: float  # wall time of the profiling run that measured all this
    preprocess_ms: float = 0.0   # camera image to input tensor, on the edge
    postprocess_ms: float = 0.0  # model output to results, on whichever side ran the last layer

    @classmethod
    def from_profile(cls, profile: dict, codec: str = 'fp16+lz4', input_codec: str = 'jpeg') -> 'SimProfile':
        """The model as profiled with ``codec`` for features and ``input_codec`` at split 0;
        raises ValueError when the profile lacks that codec's figures at a usable split.
        """
        space = SplitSpace.from_profile(profile, codec, input_codec)
        n = space.num_layers
        size = np.full(n + 1, np.nan)
        enc = np.zeros(n + 1)
        dec = np.zeros(n + 1)
        for cut in profile['cuts']:
            k = cut['split']
            if k == n:
                size[k] = 0.0
                continue
            c = space.codec_for(k)
            if c not in cut['bytes']:
                raise ValueError(f"the profile of {profile['model']} has no {c} figures at split {k}; "
                                 f'profile it with --codec {c}')
            size[k], enc[k], dec[k] = cut['bytes'][c], cut['encode_ms'][c], cut['decode_ms'][c]
        layer_ms = np.array([layer['ms'] for layer in profile['layers']])
        return cls(profile['model'], space, layer_ms, size, enc, dec,
                   profile.get('profile_seconds', 10 * layer_ms.sum() / 1e3),
                   profile.get('preprocess_ms', 0.0), profile.get('postprocess_ms', 0.0))


@dataclass(frozen=True)
class Platform:
    """Edge ms = profiled ms x edge_slowdown; cloud ms = profiled ms / cloud_speedup."""

    name: str
    edge_slowdown: float
    cloud_speedup: float = 1.0


PLATFORMS = {p.name: p for p in (Platform('edge5x', 5.0), Platform('edge10x', 10.0), Platform('edge20x', 20.0))}
DEFAULT_PLATFORM = 'edge10x'


@dataclass
class Scenario:
    """One simulated run's conditions: model, platform, bandwidth trace, loads, camera rate and noise."""

    profile: SimProfile
    platform: Platform
    trace: Trace
    fps: float = 10.0
    cloud_load: Steps = field(default_factory=Steps)
    edge_load: Steps = field(default_factory=Steps)
    delay_ms: float = 20.0
    noise: float = 0.05
    duration_s: float | None = None
    ping_every_s: float = 1.0
    result_bytes: int = 2000
    seed: int = 0

    @property
    def duration(self) -> float:
        """Simulated seconds: ``duration_s``, else the trace's period capped at 600 s."""
        return self.duration_s or min(self.trace.period, 600.0)

    def change_times(self) -> list[float]:
        """Times (s, inside the run) where a load schedule or the trace steps."""
        times = set(self.cloud_load.change_times) | set(self.edge_load.change_times)
        times |= set(self.trace.change_points(duration=self.duration))
        return sorted(t for t in times if 0 < t < self.duration)


class Truth:
    """True costs of every split for a frame served from time s."""

    def __init__(self, sc: Scenario):
        self.sc = sc
        p = sc.profile
        self.n = p.space.num_layers
        self.cum = np.concatenate([[0.0], np.cumsum(p.layer_ms)])
        self.usable = np.array(sorted(p.space.splits))
        self.bits = np.nan_to_num(p.bytes, nan=0.0) * 8.0
        frames = int(sc.duration * sc.fps) + 2
        rng = np.random.default_rng(sc.seed)
        self.noise_edge = np.exp(rng.normal(0.0, sc.noise, frames))
        self.noise_cloud = np.exp(rng.normal(0.0, sc.noise, frames))

    def costs(self, frame: int | np.ndarray, s: float | np.ndarray, splits=None):
        """(e2e, edge, cloud, edge_scale, cloud_scale) in ms for the given splits (default all 0..n)."""
        sc, n = self.sc, self.n
        ks = np.arange(n + 1) if splits is None else np.asarray(splits)
        edge_scale = sc.platform.edge_slowdown * sc.edge_load.at(s) * self.noise_edge[frame]
        p = sc.profile
        edge = ((p.preprocess_ms + self.cum[ks] + np.where(ks == n, p.postprocess_ms, 0.0)) * edge_scale
                + p.encode_ms[ks] * sc.platform.edge_slowdown)
        sent = s + edge / 1e3
        arrived = sc.trace.finish(sent, self.bits[ks]) + sc.delay_ms / 1e3
        cloud_scale = self.noise_cloud[frame] / sc.platform.cloud_speedup * sc.cloud_load.at(arrived)
        cloud = ((self.cum[n] - self.cum[ks] + p.postprocess_ms) * cloud_scale
                 + p.decode_ms[ks] / sc.platform.cloud_speedup)
        back = sc.trace.finish(arrived + cloud / 1e3, 8.0 * sc.result_bytes) + sc.delay_ms / 1e3
        e2e = np.where(ks == n, edge, (back - s) * 1e3)
        cloud = np.where(ks == n, 0.0, cloud)
        return e2e, edge, cloud, edge_scale, cloud_scale

    def probe_done(self, costs, s: float, k: int, p: int) -> float:
        """Until when a shadow probe at split p, made from the frame served at split k
        from s (``costs``: that frame's ``costs`` over all splits), holds the pipeline:
        the edge encodes it (first running layers [k, p) when p > k) after the real frame
        is sent, and while frames use the link its payload queues behind the real one.
        Its cloud work overlaps the next frame's edge work.
        """
        sc, n = self.sc, self.n
        _, edge, _, es, _ = costs
        sent = s + edge[k] / 1e3
        head_ms = max(self.cum[p] - self.cum[k], 0.0) * es + sc.profile.encode_ms[p] * sc.platform.edge_slowdown
        done = sent + head_ms / 1e3
        if p < n and k < n:
            link_free = float(sc.trace.finish(sent, self.bits[k]))
            done = float(sc.trace.finish(max(done, link_free), self.bits[p]))
        return float(done)

    def record(self, frame: int, costs, k: int, wait_ms: float, probe: bool = False) -> FrameRecord:
        """The FrameRecord the manager would build for the frame served at split k
        (``costs``: that frame's ``costs`` over all splits).
        """
        e2e, edge, cloud, es, cs = costs
        e2e, edge, cloud, cs = float(e2e[k]), float(edge[k]), float(cloud[k]), float(cs[k])
        p, n = self.sc.profile, self.n
        layer = p.layer_ms
        return FrameRecord(
            frame, k, Status.OK, int(self.bits[k] / 8), e2e + wait_ms, edge + wait_ms, cloud,
            edge_compute_ms=float(self.cum[k] * es), cloud_compute_ms=float((self.cum[n] - self.cum[k]) * cs),
            codec_ms=float(p.encode_ms[k] * self.sc.platform.edge_slowdown
                           + p.decode_ms[k] / self.sc.platform.cloud_speedup),
            edge_layer_ms=tuple(layer[:k] * es), cloud_layer_ms=tuple(layer[k:] * cs), probe=probe)


@dataclass
class Run:
    """One policy's served frames (times in s, latencies in ms), frames dropped, and mean decision time in us."""

    policy: str
    start: np.ndarray       # s
    arrival: np.ndarray     # s
    split: np.ndarray
    latency: np.ndarray     # ms, from the frame's arrival
    oracle_split: np.ndarray
    equivalent: np.ndarray  # the chosen split's cost is within tolerance of the best
    dropped: int
    decision_us: float

    @property
    def mean(self) -> float:
        """Mean latency in ms (nan with no frames)."""
        return float(self.latency.mean()) if len(self.latency) else float('nan')

    @property
    def p95(self) -> float:
        """95th-percentile latency in ms (nan with no frames)."""
        return float(np.percentile(self.latency, 95)) if len(self.latency) else float('nan')

    @property
    def switches(self) -> int:
        """How many times the split changed between consecutive served frames."""
        return int(np.count_nonzero(np.diff(self.split))) if len(self.split) > 1 else 0


EQUIVALENT_TOLERANCE = 0.03


class _Driver:
    """Feeds one policy what the live manager would: its decisions' records, shadow probes,
    pings, and (for neurosurgeon) a fresh profile once re-profiling after a load change is done.
    """

    def __init__(self, policy: Policy, sc: Scenario, truth: Truth):
        self.policy, self.sc, self.truth = policy, sc, truth
        self.decision_s = 0.0  # wall time spent in choose()
        self.next_ping = 0.0
        self.profiled = policy if isinstance(policy, Neurosurgeon) else None
        self.pending: list[tuple[float, float]] = []  # (profile ready at, load change it measures)
        if self.profiled is not None:
            _neurosurgeon_profile(self.profiled, sc, 0.0)
            changes = sorted(set(sc.cloud_load.change_times) | set(sc.edge_load.change_times))
            self.pending = [(t + _profiling_s(sc, t), t) for t in changes]

    def choose(self, s: float) -> int:
        """The policy's split for the frame served from time s (after any profile due by then)."""
        if self.profiled is not None:
            while self.pending and self.pending[0][0] <= s:
                _neurosurgeon_profile(self.profiled, self.sc, self.pending.pop(0)[1])
        t0 = time.perf_counter()
        k, _ = self.policy.choose()
        self.decision_s += time.perf_counter() - t0
        return k

    def feed(self, j: int, s: float, costs, k: int, wait_ms: float, served: int, done: float) -> float:
        """Give the policy frame j's record (served at split k from s), its probe and a ping if due;
        return when the pipeline is free again (``done``, or later while a probe holds it).
        """
        policy, truth, sc = self.policy, self.truth, self.sc
        policy.observe(truth.record(j, costs, k, wait_ms))
        if policy.probe_every and served % policy.probe_every == 0:
            probe = policy.probe_split()
            if probe is not None and probe != k:
                policy.observe(truth.record(j, costs, probe, 0.0, probe=True))
                done = max(done, truth.probe_done(costs, s, k, probe))
        if s >= self.next_ping and hasattr(policy, 'ping'):
            policy.ping(2 * (sc.delay_ms + (float(sc.trace.finish(s, 800.0)) - s) * 1e3))  # 100 B each way
            self.next_ping = s + sc.ping_every_s
        return done


def _next_frame(free: float, i: int, fps: float) -> tuple[int, float, int]:
    """(frame, start s, frames skipped) when the pipeline is free at ``free`` and frame i is the
    next unserved one: the newest frame that has arrived by then, else frame i on its arrival.
    """
    latest = int(math.floor(free * fps + 1e-9))
    if latest >= i:
        return latest, free, latest - i
    return i, i / fps, 0


def simulate(sc: Scenario, policy: Policy | str, truth: Truth | None = None) -> Run:
    """Run one policy through the scenario (``'oracle'`` for the bound); raises ValueError for
    any other string.
    """
    truth = truth or Truth(sc)
    if isinstance(policy, str):
        if policy != 'oracle':
            raise ValueError(f"simulate takes a Policy or 'oracle', got {policy!r}")
        name, driver = 'oracle', None
    else:
        name, driver = policy.name, _Driver(policy, sc, truth)
    usable = truth.usable
    rows = []
    dropped = served = i = 0
    free = 0.0
    while True:
        j, s, skipped = _next_frame(free, i, sc.fps)
        dropped += skipped
        if s >= sc.duration or j >= len(truth.noise_edge):
            break
        arrival = j / sc.fps
        costs = truth.costs(j, s)
        e2e_all = costs[0]
        best = int(usable[np.argmin(e2e_all[usable])])
        k = best if driver is None else driver.choose(s)
        wait_ms = (s - arrival) * 1e3
        e2e = float(e2e_all[k])
        done = s + e2e / 1e3
        if driver is not None:
            done = driver.feed(j, s, costs, k, wait_ms, served, done)
        rows.append((s, arrival, k, wait_ms + e2e, best, e2e <= e2e_all[best] * (1 + EQUIVALENT_TOLERANCE)))
        served += 1
        free = done
        i = j + 1
    a = np.array(rows, dtype=float).reshape(-1, 6)
    decision_us = (driver.decision_s if driver else 0.0) / max(served, 1) * 1e6
    return Run(name, a[:, 0], a[:, 1], a[:, 2].astype(int), a[:, 3], a[:, 4].astype(int), a[:, 5].astype(bool),
               dropped, decision_us)


def simulate_fixed(sc: Scenario, splits, truth: Truth | None = None) -> list[Run]:
    """``simulate`` with a fixed split, for many splits at once: one lane per split,
    all lanes advanced together (what makes best_static affordable on 200 splits).
    """
    truth = truth or Truth(sc)
    ks = np.asarray(splits, dtype=int)
    lanes, cap = len(ks), len(truth.noise_edge)
    usable = truth.usable
    free = np.zeros(lanes)
    nxt = np.zeros(lanes, dtype=int)
    dropped = np.zeros(lanes, dtype=int)
    active = np.ones(lanes, dtype=bool)
    served = np.zeros(lanes, dtype=int)
    cols = {c: np.zeros((lanes, cap)) for c in ('start', 'arrival', 'latency', 'best', 'equivalent')}
    while True:
        latest = np.floor(free * sc.fps + 1e-9).astype(int)
        busy = latest >= nxt
        j = np.where(busy, latest, nxt)
        s = np.where(busy, free, nxt / sc.fps)
        dropped += np.where(busy & active, latest - nxt, 0)
        active &= (s < sc.duration) & (j < cap)
        lane = np.nonzero(active)[0]
        if len(lane) == 0:
            break
        jj, ss = j[lane], s[lane]
        every = truth.costs(jj[:, None], ss[:, None], np.arange(truth.n + 1)[None, :])[0]
        rows = np.arange(len(lane))
        pick = np.argmin(every[:, usable], axis=1)
        best_cost = every[rows, usable[pick]]
        own = every[rows, ks[lane]]
        arrival = jj / sc.fps
        row = served[lane]
        cols['start'][lane, row] = ss
        cols['arrival'][lane, row] = arrival
        cols['latency'][lane, row] = (ss - arrival) * 1e3 + own
        cols['best'][lane, row] = usable[pick]
        cols['equivalent'][lane, row] = own <= best_cost * (1 + EQUIVALENT_TOLERANCE)
        served[lane] += 1
        free[lane] = ss + own / 1e3
        nxt[lane] = jj + 1
    return [Run('fixed', cols['start'][x, :m], cols['arrival'][x, :m], np.full(m, ks[x]), cols['latency'][x, :m],
                cols['best'][x, :m].astype(int), cols['equivalent'][x, :m].astype(bool), int(dropped[x]), 0.0)
            for x, m in enumerate(served)]


def _profiling_s(sc: Scenario, t: float) -> float:
    """Wall time to re-run the profiler on both platforms (in parallel) after a change at t:
    the measured profiling time, at each platform's speed then.
    """
    edge = sc.platform.edge_slowdown * float(sc.edge_load.at(t))
    cloud = float(sc.cloud_load.at(t)) / sc.platform.cloud_speedup
    return sc.profile.profile_seconds * max(edge, cloud)


def _neurosurgeon_profile(policy: Neurosurgeon, sc: Scenario, t: float) -> None:
    p = sc.profile
    edge = p.layer_ms * sc.platform.edge_slowdown * sc.edge_load.at(t)
    cloud = p.layer_ms / sc.platform.cloud_speedup * sc.cloud_load.at(t)
    codec = p.encode_ms * sc.platform.edge_slowdown + p.decode_ms / sc.platform.cloud_speedup
    policy.set_profile(edge, cloud, np.nan_to_num(p.bytes, nan=np.inf), codec)


def convergence(run: Run, events: list[float], stable: int = 5) -> list[tuple[float, int, float, bool]]:
    """For each event time: (time, frames, seconds, censored) until the policy's split
    is as good as the oracle's (within the tolerance) and stays so for ``stable`` frames.
    """
    out = []
    bounds = list(events) + [float('inf')]
    for t, t_next in zip(events, bounds[1:]):
        idx = np.nonzero((run.start >= t) & (run.start < t_next))[0]
        if len(idx) == 0:
            continue
        eq = run.equivalent[idx]
        found = None
        for f in range(len(idx)):
            window = eq[f:f + stable]
            if window.all() and (len(window) == stable or f + len(window) == len(idx)):
                found = f
                break
        if found is None:
            out.append((t, len(idx), float(run.start[idx[-1]] - t), True))
        else:
            out.append((t, found, float(run.start[idx[found]] - t), False))
    return out


SIM_POLICIES = ('partnner', 'edge_only', 'cloud_only', 'best_static', 'neurosurgeon', 'ans')


def run_all(sc: Scenario, policies=SIM_POLICIES) -> dict[str, Run]:
    """Every requested policy plus the oracle; best_static is the best fixed split in hindsight."""
    truth = Truth(sc)
    space = sc.profile.space
    runs = {'oracle': simulate(sc, 'oracle', truth)}
    for name in policies:
        if name == 'best_static':
            best = min(simulate_fixed(sc, space.splits, truth), key=lambda r: r.mean)
            best.policy = f'best_static (split {best.split[0]})'
            runs[name] = best
        else:
            runs[name] = simulate(sc, make_policy(name, space.num_layers, space=space), truth)
    return runs

