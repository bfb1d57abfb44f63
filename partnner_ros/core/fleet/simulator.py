"""N robots sharing one server, frame by frame, in time order.

Each robot is a single-robot :class:`~..simulation.scenario.Scenario` (its model,
platform, link trace, camera rate and noise) and serves one frame at a time, the
newest, as the live edge does. What differs from the single-robot simulator is
the server: one worker, shared, that runs the requests of all robots in arrival
order, batching those that resume at the same layer (:mod:`.batching`). A batch
of b requests takes their mean work times b over the batching gain at b. The
server publishes its load (:mod:`.load`) every ``tick_s``; a coordinated robot's
policy hears it, an uncoordinated one sees the server only through its own
frames, as a slower cloud.
"""

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
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
    """Every robot's run under one mode, and the server's busy share and batch sizes."""

    mode: str
    robots: list[RobotRun]
    utilisation: float
    batch_sizes: np.ndarray

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
    def __init__(self, sc: Scenario, policy: Policy, coordinated: bool, name: str):
        self.sc, self.policy, self.coordinated, self.name = sc, policy, coordinated, name
        self.truth = Truth(sc)
        self.rows: list[tuple[float, float, int]] = []
        self.next_i = self.dropped = 0


def simulate_fleet(scenarios: list[Scenario], mode: str, server: Server | None = None, duration_s: float = 60.0,
                   options: list[int] | None = None, probe_share: float = 0.05) -> FleetRun:
    """Run the fleet under ``mode`` (see MODES), or with each robot fixed to ``options[i]`` (an option of its
    :class:`Truth`) when ``options`` is given; raises ValueError for an unknown mode.
    """
    if options is None and mode not in MODES:
        raise ValueError(f'unknown fleet mode {mode!r}; known: {", ".join(MODES)}')
    return _FleetSim(scenarios, mode, server or Server(), duration_s, options, probe_share).run()


class _FleetSim:
    def __init__(self, scenarios, mode, server: Server, duration_s, options, probe_share):
        self.server, self.duration, self.options = server, duration_s, options
        self.robots = []
        for i, sc in enumerate(scenarios):
            n = sc.profile.space.num_layers
            name = 'partnner' if mode in ('partnner', 'uncoordinated') else mode
            policy = make_policy('cloud_only' if options else name, n, space=sc.profile.space,
                                 probe_share=probe_share, seed=i)
            self.robots.append(_Robot(sc, policy, mode == 'partnner', f'robot{i + 1}'))
        self.mode = mode if options is None else 'static'
        self.queue = BatchQueue(server.max_batch, server.max_wait_ms / 1e3, capacity=10 ** 6)
        self.load = ServerLoad()
        self.events: list = []
        self._seq = itertools.count()
        self.busy_until = 0.0
        self.busy_s = 0.0
        self.batches: list[int] = []

    def _push(self, t: float, kind: str, data=None) -> None:
        heapq.heappush(self.events, (t, next(self._seq), kind, data))

    def run(self) -> FleetRun:
        for i in range(len(self.robots)):
            self._start(i, 0.0)
        self._push(0.0, 'tick')
        handlers: dict[str, Callable[[float, Any], None]] = {
            'arrive': self._arrive, 'wake': self._serve, 'batch_done': self._batch_done, 'done': self._done,
            'tick': self._tick}
        while self.events:
            t, _, kind, data = heapq.heappop(self.events)
            handlers[kind](t, data)
        runs = []
        for r in self.robots:
            rows = np.array(r.rows, dtype=float).reshape(-1, 3)
            runs.append(RobotRun(r.name, rows[:, 0], rows[:, 1], rows[:, 2].astype(int), r.dropped, self.duration))
        return FleetRun(self.mode, runs, min(1.0, self.busy_s / self.duration), np.array(self.batches))

    # --- robots -------------------------------------------------------------------------------
    def _start(self, i: int, free: float) -> None:
        r = self.robots[i]
        j, s, skipped = next_frame(free, r.next_i, r.sc.fps)
        r.dropped += skipped
        if s >= self.duration or j >= len(r.truth.noise_edge):
            return
        r.next_i = j + 1
        if self.options is not None:
            o = self.options[i]
        else:
            k, _ = r.policy.choose()
            o = r.truth.option(k, r.policy.codec_for(k))
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
                 'es': es, 'cs': cs, 'probe': probe, 'wait_ms': (s - j / sc.fps) * 1e3}
        if truth.opt_k[o] == truth.n:
            self._push(s + edge / 1e3, 'done', frame)
            return
        sent = s + edge / 1e3
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
            cloud_layer_ms=tuple(cloud_layers), probe=frame['probe'], at_s=t, codec=truth.opt_codec[o]))
        if frame['probe']:
            return
        r.rows.append((frame['start'], e2e + frame['wait_ms'], k))
        self._start(i, t)

    # --- the server ---------------------------------------------------------------------------
    def _arrive(self, t: float, frame: dict) -> None:
        r = self.robots[frame['robot']]
        self.queue.push(frame, (r.sc.profile.name, int(r.truth.opt_k[frame['option']])), t)
        self._serve(t)

    def _serve(self, t: float, _=None) -> None:
        if t < self.busy_until:
            return
        batch, wake = self.queue.take(t)
        if wake is not None:
            self._push(wake, 'wake')
        if not batch:
            return
        ms = self.server.batch_ms([req.item['work_ms'] for req in batch])
        self.busy_until = t + ms / 1e3
        self.busy_s += ms / 1e3
        self.batches.append(len(batch))
        self.load.served(t, self.busy_until, [((t - req.arrived_s) * 1e3, req.item['robot']) for req in batch])
        for req in batch:
            req.item['cloud_ms'] = (self.busy_until - req.arrived_s) * 1e3
            req.item['batch_ms'] = ms
        self._push(self.busy_until, 'batch_done', batch)

    def _batch_done(self, t: float, batch) -> None:
        for req in batch:
            sc = self.robots[req.item['robot']].sc
            self._push(float(sc.trace.finish(t, 8.0 * sc.result_bytes)) + sc.delay_ms / 1e3, 'done', req.item)
        self._serve(t)

    def _tick(self, t: float, _=None) -> None:
        state = self.load.update(t, len(self.queue))
        for r in self.robots:
            if r.coordinated and isinstance(r.policy, Partnner):
                r.policy.server_load(state.wait_ms, state.price)
        if t + self.server.tick_s < self.duration:
            self._push(t + self.server.tick_s, 'tick')
