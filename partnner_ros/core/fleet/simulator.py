"""N robots sharing one server or several, frame by frame, in time order.

Each robot is a single-robot :class:`~..simulation.scenario.Scenario` (its model,
platform, link trace, camera rate and noise) and serves one frame at a time, the
newest, as the live edge does. What differs from the single-robot simulator is
the servers: each is one worker, shared, that runs the requests of its robots in
arrival order, batching those that resume at the same layer (:mod:`.batching`).
A batch of b requests takes their mean work times b over the batching gain at b.
Each server publishes its load (:mod:`.load`) every ``tick_s``; a coordinated
robot's policy hears it, an uncoordinated one sees the server only as a slower
cloud. Robots start on the servers in turn and pick among them as the live
manager does (:mod:`.servers`): by predicted cost when coordinated, and only away
from a dead one otherwise. A server may fail at a set time: it answers nothing
from then on, and a frame sent to it is lost ``result_timeout_s`` after it left
the robot, as the edge counts it.
"""

import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..adaptation.frames import FrameRecord, Status
from ..adaptation.partnner import Partnner
from ..adaptation.policies import make_policy
from ..adaptation.policy import Policy
from ..simulation.scenario import Scenario, Truth
from ..simulation.simulator import next_frame
from .batching import BatchQueue
from .load import ServerLoad
from .servers import ServerChoice, ServerHeard

# per-request speedup of a batch over requests one by one: yolov8n from split 0 on this 2-core CPU
# (partnner fleet --measure-batching), and an estimate for a GPU, which batch 1 leaves mostly idle (docs/fleet.md)
BATCH_GAINS = {'cpu': {1: 1.0, 2: 0.96, 4: 0.93, 8: 0.88}, 'gpu': {1: 1.0, 2: 1.8, 4: 3.0, 8: 4.5}}
MODES = ('edge_only', 'cloud_only', 'uncoordinated', 'partnner')


@dataclass(frozen=True)
class Server:
    """The shared server: ``speed`` relative to the profiled machine's cloud, its batching gain per batch
    size (interpolated between the sizes given), and the batch limits.
    """

    speed: float = 1.0
    batch_gain: dict = field(default_factory=lambda: dict(BATCH_GAINS['cpu']))
    max_batch: int = 1  # batches do not pay on a CPU (BATCH_GAINS)
    max_wait_ms: float = 4.0
    tick_s: float = 0.1
    name: str = ''
    fails_at_s: float | None = None

    def alive(self, t: float) -> bool:
        """Whether the server still answers at ``t``."""
        return self.fails_at_s is None or t < self.fails_at_s

    def batch_ms(self, work_ms: list[float]) -> float:
        """How long one batch of requests with these single-request work times takes."""
        sizes = sorted(self.batch_gain)
        gain = float(np.interp(len(work_ms), sizes, [self.batch_gain[b] for b in sizes]))
        return float(np.mean(work_ms)) * len(work_ms) / gain / self.speed


@dataclass
class RobotRun:
    """One robot's frames: when each was served, its latency (camera to result) and split."""

    name: str
    start: np.ndarray
    latency: np.ndarray
    split: np.ndarray
    dropped: int
    duration: float
    lost: int = 0
    moves: int = 0

    @property
    def mean(self) -> float:
        """Mean latency, ms."""
        return float(self.latency.mean()) if len(self.latency) else float('nan')

    @property
    def p95(self) -> float:
        """95th percentile latency, ms."""
        return float(np.percentile(self.latency, 95)) if len(self.latency) else float('nan')

    @property
    def fps(self) -> float:
        """Frames answered per second."""
        return len(self.latency) / self.duration


@dataclass
class FleetRun:
    """Every robot's run under one mode, and the servers' busy shares (``utilisation``: their mean) and batch
    sizes.
    """

    mode: str
    robots: list[RobotRun]
    utilisation: float
    batch_sizes: np.ndarray
    server_utilisation: tuple = ()
    server_trace: dict = field(default_factory=dict)  # name -> rows of (s, queue depth, wait ms, price), per tick

    @property
    def mean(self) -> float:
        """Fleet mean latency: the mean over robots of each robot's mean (every robot counts alike)."""
        return float(np.mean([r.mean for r in self.robots]))

    @property
    def jain(self) -> float:
        """Jain's fairness index of the robots' mean latencies: 1 when all are equal, 1/N at worst."""
        x = np.array([r.mean for r in self.robots])
        return float(x.sum() ** 2 / (len(x) * (x ** 2).sum()))


class _Robot:
    def __init__(self, sc: Scenario, policy: Policy, coordinated: bool, name: str, server: str, seed: int):
        self.sc, self.policy, self.coordinated, self.name = sc, policy, coordinated, name
        self.truth = Truth(sc)
        self.rows: list[tuple[float, float, int]] = []
        self.next_i = self.dropped = self.lost = 0
        self.servers = ServerChoice(seed=seed)
        self.servers.current = server


class _Station:
    """One server's queue, load and record."""

    def __init__(self, spec: Server):
        self.spec = spec
        self.queue = BatchQueue(spec.max_batch, spec.max_wait_ms / 1e3, capacity=10 ** 6)
        self.load = ServerLoad()
        self.busy_until = self.busy_s = 0.0
        self.batches: list[int] = []
        self.trace: list[tuple[float, int, float, float]] = []


def simulate_fleet(scenarios: list[Scenario], mode: str, servers: Server | list[Server] | None = None,
                   duration_s: float = 60.0, options: list[int] | None = None, probe_share: float = 0.05,
                   result_timeout_s: float = 1.0) -> FleetRun:
    """Run the fleet under ``mode`` (see MODES), or with each robot fixed to ``options[i]`` (an option of its
    :class:`Truth`) when ``options`` is given, on one server or several (each named; unnamed ones get
    server1, server2, ...); raises ValueError for an unknown mode.
    """
    if options is None and mode not in MODES:
        raise ValueError(f'unknown fleet mode {mode!r}; known: {", ".join(MODES)}')
    specs = servers if isinstance(servers, list) else [servers or Server()]
    specs = [s if s.name else replace(s, name=f'server{m + 1}') for m, s in enumerate(specs)]
    return _FleetSim(scenarios, mode, specs, duration_s, options, probe_share, result_timeout_s).run()


class _FleetSim:
    def __init__(self, scenarios, mode, specs: list[Server], duration_s, options, probe_share, result_timeout_s):
        self.duration, self.options, self.timeout_s = duration_s, options, result_timeout_s
        self.stations = {spec.name: _Station(spec) for spec in specs}
        names = list(self.stations)
        self.robots = []
        for i, sc in enumerate(scenarios):
            n = sc.profile.space.num_layers
            name = 'partnner' if mode in ('partnner', 'uncoordinated') else mode
            policy = make_policy('cloud_only' if options else name, n, space=sc.profile.space,
                                 probe_share=probe_share, seed=i)
            self.robots.append(_Robot(sc, policy, mode == 'partnner', f'robot{i + 1}', names[i % len(names)], i))
        self.mode = mode if options is None else 'static'
        self.events: list = []
        self._seq = itertools.count()

    def _push(self, t: float, kind: str, data=None) -> None:
        heapq.heappush(self.events, (t, next(self._seq), kind, data))

    def run(self) -> FleetRun:
        for i in range(len(self.robots)):
            self._start(i, 0.0)
        self._push(0.0, 'tick')
        handlers: dict[str, Callable[[float, Any], None]] = {
            'arrive': self._arrive, 'wake': self._serve, 'batch_done': self._batch_done, 'done': self._done,
            'tick': self._tick, 'lost': self._lost}
        while self.events:
            t, _, kind, data = heapq.heappop(self.events)
            handlers[kind](t, data)
        runs = []
        for r in self.robots:
            rows = np.array(r.rows, dtype=float).reshape(-1, 3)
            runs.append(RobotRun(r.name, rows[:, 0], rows[:, 1], rows[:, 2].astype(int), r.dropped, self.duration,
                                 r.lost, r.servers.moves))
        busy = tuple(min(1.0, st.busy_s / self.duration) for st in self.stations.values())
        return FleetRun(self.mode, runs, float(np.mean(busy)),
                        np.array([b for st in self.stations.values() for b in st.batches]), busy,
                        {name: np.array(st.trace, dtype=float).reshape(-1, 4) for name, st in self.stations.items()})

    # --- robots -------------------------------------------------------------------------------
    def _start(self, i: int, free: float) -> None:
        r = self.robots[i]
        j, s, skipped = next_frame(free, r.next_i, r.sc.fps)
        if s >= self.duration or j >= len(r.truth.noise_edge):
            # the run is over: the frames the camera took meanwhile were never served
            taken = math.ceil(self.duration * r.sc.fps - 1e-9)
            r.dropped += max(0, min(j, taken - 1) - r.next_i + 1)
            return
        r.dropped += skipped
        r.next_i = j + 1
        if self.options is not None:
            o = self.options[i]
        else:
            k, _ = r.policy.choose()
            o = r.truth.option(k, r.policy.codec_for(k))
        cloud_ms = r.policy.cloud.predict(int(r.truth.opt_k[o]), r.truth.n) \
            if isinstance(r.policy, Partnner) and r.policy.cloud.known else 0.0
        r.servers.choose(s, cloud_ms)
        self._send(i, j, s, o, probe=False)
        every = r.policy.probe_every
        if self.options is None and every and len(r.rows) % every == 0:
            split = r.policy.probe_split()
            probe = None if split is None else r.truth.option(split, r.policy.codec_for(split))
            if probe is not None and probe != o:
                self._send(i, j, s, probe, probe=True)

    def _send(self, i: int, j: int, s: float, o: int, probe: bool) -> None:
        r = self.robots[i]
        truth, sc = r.truth, r.sc
        _, edge, work, es, cs = (float(np.ravel(x)[0]) for x in truth.costs(j, s, np.array([o])))
        frame = {'robot': i, 'frame': j, 'start': s, 'option': o, 'edge_ms': edge, 'work_ms': work,
                 'es': es, 'cs': cs, 'probe': probe, 'wait_ms': (s - j / sc.fps) * 1e3,
                 'server': r.servers.current, 'sent': s + edge / 1e3}
        if truth.opt_k[o] == truth.n:
            self._push(s + edge / 1e3, 'done', frame)
            return
        sent = frame['sent']
        self._push(float(sc.trace.finish(sent, truth.bits[o])) + sc.delay_ms / 1e3, 'arrive', frame)

    def _done(self, t: float, frame: dict) -> None:
        i = frame['robot']
        r = self.robots[i]
        truth, o = r.truth, frame['option']
        k, n = int(truth.opt_k[o]), truth.n
        e2e = (t - frame['start']) * 1e3
        cloud_ms, compute_ms = frame.get('cloud_ms', 0.0), frame.get('batch_ms', 0.0)
        layer = r.sc.profile.layer_ms
        cloud_layers = layer[k:] * compute_ms / max(float(layer[k:].sum()), 1e-9) if k < n else ()
        r.policy.observe(FrameRecord(
            frame['frame'], k, Status.OK, int(truth.bits[o] / 8), e2e + frame['wait_ms'],
            frame['edge_ms'] + frame['wait_ms'], cloud_ms, edge_compute_ms=float(truth.cum[k] * frame['es']),
            cloud_compute_ms=compute_ms, edge_layer_ms=tuple(layer[:k] * frame['es']),
            cloud_layer_ms=tuple(cloud_layers), probe=frame['probe'], at_s=t, codec=truth.opt_codec[o],
            pre_post_ms=truth.pre_post_ms(k, frame['es'], frame['cs'])))
        if frame['probe']:
            return
        r.rows.append((frame['start'], e2e + frame['wait_ms'], k))
        self._start(i, t)

    def _lost(self, t: float, frame: dict) -> None:
        """A frame a dead server never answered: the robot gives up on it and takes the next."""
        if frame['probe']:
            return
        self.robots[frame['robot']].lost += 1
        self._start(frame['robot'], t)

    def _lose(self, t: float, frame: dict) -> None:
        self._push(max(t, frame['sent'] + self.timeout_s), 'lost', frame)

    # --- the servers --------------------------------------------------------------------------
    def _arrive(self, t: float, frame: dict) -> None:
        st = self.stations[frame['server']]
        if not st.spec.alive(t):
            self._lose(t, frame)
            return
        r = self.robots[frame['robot']]
        st.queue.push(frame, (r.sc.profile.name, int(r.truth.opt_k[frame['option']])), t)
        self._serve(t, st)

    def _serve(self, t: float, st: _Station) -> None:
        if t < st.busy_until:
            return
        if not st.spec.alive(t):
            for req in st.queue.drain():
                self._lose(t, req.item)
            return
        batch, wake = st.queue.take(t)
        if wake is not None:
            self._push(wake, 'wake', st)
        if not batch:
            return
        ms = st.spec.batch_ms([req.item['work_ms'] for req in batch])
        st.busy_until = t + ms / 1e3
        st.busy_s += ms / 1e3
        st.batches.append(len(batch))
        st.load.served(t, st.busy_until, [((t - req.arrived_s) * 1e3, req.item['robot']) for req in batch])
        for req in batch:
            req.item['cloud_ms'] = (st.busy_until - req.arrived_s) * 1e3
            req.item['batch_ms'] = ms
        self._push(st.busy_until, 'batch_done', (st, batch))

    def _batch_done(self, t: float, done) -> None:
        st, batch = done
        for req in batch:
            if not st.spec.alive(t):
                self._lose(t, req.item)
                continue
            sc = self.robots[req.item['robot']].sc
            self._push(float(sc.trace.finish(t, 8.0 * sc.result_bytes)) + sc.delay_ms / 1e3, 'done', req.item)
        self._serve(t, st)

    def _tick(self, t: float, _=None) -> None:
        for name, st in self.stations.items():
            if not st.spec.alive(t):
                self._serve(t, st)  # what waited there is lost
                continue
            state = st.load.update(t, len(st.queue))
            st.trace.append((t, state.queue_depth, state.wait_ms, state.price))
            for r in self.robots:
                # an uncoordinated robot hears that the server lives, not what it costs
                r.servers.heartbeat(name, ServerHeard(t, state.wait_ms, state.price) if r.coordinated
                                    else ServerHeard(t))
        for r in self.robots:
            if r.coordinated and isinstance(r.policy, Partnner) and r.servers.current is not None:
                heard = r.servers.heard[r.servers.current]
                r.policy.server_load(heard.wait_ms, heard.price)
        tick = min(st.spec.tick_s for st in self.stations.values())
        if t + tick < self.duration:
            self._push(t + tick, 'tick')
