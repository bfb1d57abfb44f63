"""Trace-driven simulator: every policy sees the frames it would really see.

A camera produces frames at ``fps``; the pipeline serves one frame at a time and
takes the newest waiting frame when it is free (latest-frame semantics; skipped
frames count as dropped). What a frame costs at each split is the scenario's
``Truth`` (see :mod:`.scenario`). Policies get the same FrameRecord the live
manager builds (durations only), and the same shadow probes and pings; a probe's
work holds the pipeline until it is done, so probing costs latency as it does
live. The oracle knows every frame's true costs and is the bound.
"""

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from ..adaptation.policies import Neurosurgeon, Policy, make_policy
from . import SIM_POLICIES
from .informed import InformedDriver
from .scenario import Scenario, Truth

STEADY_AFTER_S = 10.0  # start-up is over by then: the cloud and the link are measured


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
    probe_server_ms: float = 0.0  # what shadow probes cost the server
    uplink_bits: float = 0.0      # what the link could carry over the run
    seconds: float = 0.0          # the run's length
    codec: tuple = ()             # each served frame's payload codec ('' at edge-only)
    probes: tuple = ()            # (s, bits) of each shadow probe: when it was sent, and its payload
    steady_uplink_bits: float = 0.0  # what the link could carry from STEADY_AFTER_S on

    @property
    def probe_bits(self) -> float:
        """What shadow probes sent over the uplink."""
        return self.probe_bits_since(0.0)

    @property
    def probe_uplink_share(self) -> float:
        """Share of the uplink's capacity over the run that shadow probes used."""
        return self.probe_bits / self.uplink_bits if self.uplink_bits else 0.0

    def probe_bits_since(self, t: float) -> float:
        """What shadow probes sent from ``t`` on (s)."""
        return float(sum(bits for at, bits in self.probes if at >= t))

    @property
    def probe_uplink_share_steady(self) -> float:
        """Share of the uplink's capacity that shadow probes used from STEADY_AFTER_S on: the steady
        state, after the start-up's probe every other frame.
        """
        return self.probe_bits_since(STEADY_AFTER_S) / self.steady_uplink_bits if self.steady_uplink_bits else 0.0

    @property
    def probe_server_share(self) -> float:
        """Share of the server's time over the run that shadow probes used."""
        return self.probe_server_ms / (self.seconds * 1e3) if self.seconds else 0.0

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
        self.probe_server_ms = 0.0
        self.probes: list[tuple[float, float]] = []
        self.next_ping = 0.0
        self.profiled = policy if isinstance(policy, Neurosurgeon) else None
        self.pending: list[tuple[float, float]] = []  # (profile ready at, load change it measures)
        if self.profiled is not None:
            _neurosurgeon_profile(self.profiled, sc, 0.0)
            changes = sorted(set(sc.cloud_load.change_times) | set(sc.edge_load.change_times))
            self.pending = [(t + _profiling_s(sc, t), t) for t in changes]

    def choose(self, s: float) -> int:
        """The option (split and codec) of the policy for the frame served from time s (after any
        profile due by then).
        """
        if self.profiled is not None:
            while self.pending and self.pending[0][0] <= s:
                _neurosurgeon_profile(self.profiled, self.sc, self.pending.pop(0)[1])
        t0 = time.perf_counter()
        k, _ = self.policy.choose()
        self.decision_s += time.perf_counter() - t0
        return self.truth.option(k, self.policy.codec_for(k))

    def feed(self, j: int, s: float, costs, o: int, wait_ms: float, served: int, done: float) -> float:
        """Give the policy frame j's record (served with option o from s), its probe and a ping if due;
        return when the pipeline is free again (``done``, or later while a probe holds it).
        """
        policy, truth, sc = self.policy, self.truth, self.sc
        policy.observe(truth.record(j, costs, o, wait_ms, s))
        if policy.probe_every and served % policy.probe_every == 0:
            split = policy.probe_split()
            probe = None if split is None else truth.option(split, policy.codec_for(split))
            if probe is not None and probe != o:
                policy.observe(truth.record(j, costs, probe, 0.0, s, probe=True))
                self.probes.append((s, float(truth.bits[probe])))
                self.probe_server_ms += float(costs[2][probe])
                done = max(done, truth.probe_done(costs, s, o, probe))
        if s >= self.next_ping and hasattr(policy, 'ping'):
            policy.ping(2 * (sc.delay_ms + (float(sc.trace.finish(s, 800.0)) - s) * 1e3))  # 100 B each way
            self.next_ping = s + sc.ping_every_s
        return done


def next_frame(free: float, i: int, fps: float) -> tuple[int, float, int]:
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
        return serve(sc, truth, 'oracle', None)
    return serve(sc, truth, policy.name, _Driver(policy, sc, truth))


def serve(sc: Scenario, truth: Truth, name: str, driver) -> Run:
    """Serve the scenario's frames, each with the option ``driver.choose(s)`` picks (the best one when
    ``driver`` is None: the oracle), feeding the driver each outcome (see ``_Driver``).
    """
    usable = truth.usable
    rows, codecs = [], []
    dropped = served = i = 0
    free = 0.0
    intake = sc.intake_ms / 1e3
    while True:
        j, s, skipped = next_frame(free - intake, i, sc.fps)
        s += intake
        dropped += skipped
        if s >= sc.duration or j >= len(truth.noise_edge):
            break
        arrival = j / sc.fps
        costs = truth.costs(j, s)
        e2e_all = costs[0]
        best = int(usable[np.argmin(e2e_all[usable])])
        o = best if driver is None else driver.choose(s)
        wait_ms = (s - arrival) * 1e3
        e2e = float(e2e_all[o])
        done = s + e2e / 1e3
        if driver is not None:
            done = driver.feed(j, s, costs, o, wait_ms, served, done)
        rows.append((s, arrival, truth.opt_k[o], wait_ms + e2e, truth.opt_k[best],
                     e2e <= e2e_all[best] * (1 + EQUIVALENT_TOLERANCE)))
        codecs.append(truth.opt_codec[o])
        served += 1
        free = done
        i = j + 1
    a = np.array(rows, dtype=float).reshape(-1, 6)
    decision_us = (driver.decision_s if driver else 0.0) / max(served, 1) * 1e6
    uplink_bits = float(sc.trace.bits_until(sc.duration))
    return Run(name, a[:, 0], a[:, 1], a[:, 2].astype(int), a[:, 3], a[:, 4].astype(int), a[:, 5].astype(bool),
               dropped, decision_us, driver.probe_server_ms if driver else 0.0, uplink_bits, sc.duration,
               tuple(codecs), tuple(driver.probes) if driver else (),
               uplink_bits - float(sc.trace.bits_until(min(STEADY_AFTER_S, sc.duration))))


def simulate_fixed(sc: Scenario, options, truth: Truth | None = None) -> list[Run]:
    """``simulate`` with a fixed option (a split, with its default codec, or a split and codec from
    ``Truth``'s options), for many at once: one lane per option, all lanes advanced together (what
    makes best_static affordable on 200 options).
    """
    truth = truth or Truth(sc)
    ks = np.asarray(options, dtype=int)
    lanes, cap = len(ks), len(truth.noise_edge)
    usable = truth.usable
    free = np.zeros(lanes)
    nxt = np.zeros(lanes, dtype=int)
    dropped = np.zeros(lanes, dtype=int)
    active = np.ones(lanes, dtype=bool)
    served = np.zeros(lanes, dtype=int)
    cols = {c: np.zeros((lanes, cap)) for c in ('start', 'arrival', 'latency', 'best', 'equivalent')}
    intake = sc.intake_ms / 1e3
    while True:
        latest = np.floor((free - intake) * sc.fps + 1e-9).astype(int)
        busy = latest >= nxt
        j = np.where(busy, latest, nxt)
        s = np.where(busy, free, nxt / sc.fps + intake)
        dropped += np.where(busy & active, latest - nxt, 0)
        active &= (s < sc.duration) & (j < cap)
        lane = np.nonzero(active)[0]
        if len(lane) == 0:
            break
        jj, ss = j[lane], s[lane]
        every = truth.costs(jj[:, None], ss[:, None], np.arange(len(truth.opt_k))[None, :])[0]
        rows = np.arange(len(lane))
        pick = np.argmin(every[:, usable], axis=1)
        best_cost = every[rows, usable[pick]]
        own = every[rows, ks[lane]]
        arrival = jj / sc.fps
        row = served[lane]
        cols['start'][lane, row] = ss
        cols['arrival'][lane, row] = arrival
        cols['latency'][lane, row] = (ss - arrival) * 1e3 + own
        cols['best'][lane, row] = truth.opt_k[usable[pick]]
        cols['equivalent'][lane, row] = own <= best_cost * (1 + EQUIVALENT_TOLERANCE)
        served[lane] += 1
        free[lane] = ss + own / 1e3
        nxt[lane] = jj + 1
    return [Run('fixed', cols['start'][x, :m], cols['arrival'][x, :m], np.full(m, truth.opt_k[ks[x]]),
                cols['latency'][x, :m], cols['best'][x, :m].astype(int), cols['equivalent'][x, :m].astype(bool),
                int(dropped[x]), 0.0, codec=(truth.opt_codec[ks[x]],) * m)
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




def run_all(sc: Scenario, policies=SIM_POLICIES) -> dict[str, Run]:
    """Every requested policy plus the oracle; best_static is the best fixed split in hindsight, informed
    the better of it and the policy of :mod:`.informed` (both references know the trace in hindsight).
    """
    truth = Truth(sc)
    space = sc.profile.space
    runs = {'oracle': simulate(sc, 'oracle', truth)}
    for name in policies:
        if name == 'best_static':
            runs[name] = best_static(sc, truth)
        elif name == 'informed':
            fixed = runs.get('best_static') or best_static(sc, truth)
            reacting = serve(sc, truth, name, InformedDriver(sc, truth))
            runs[name] = reacting if reacting.mean <= fixed.mean else replace(fixed, policy='informed (a fixed split)')
        else:
            runs[name] = simulate(sc, make_policy(name, space.num_layers, space=space), truth)
    return runs


def best_static(sc: Scenario, truth: Truth) -> Run:
    """The fixed option with the lowest mean latency over the run."""
    best = min(simulate_fixed(sc, truth.usable, truth), key=lambda r: r.mean)
    codec = best.codec[0] if best.codec else ''
    codec = f' {codec}' if codec not in ('', sc.profile.space.codec_for(best.split[0])) else ''
    best.policy = f'best_static (split {best.split[0]}{codec})'
    return best
