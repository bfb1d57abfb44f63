"""Figures of live bench runs (plain Python, no ROS): per-segment live oracle,
convergence after link steps, pipeline overhead, frame accounting, and the
comparison with the simulator.

Times are seconds since the run's start (its first camera frame); a frame's time is
its camera stamp. The live oracle of a segment is the fastest fixed split's mean
latency over the frames sent in that segment.
"""

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.adaptation.frames import Status
from ..core.simulation.traces import Trace

NUMERIC = ('seq', 'stamp_ns', 'arrival_ns', 'status', 'split', 'e2e_ms', 'edge_ms', 'cloud_ms', 'edge_queue_ms',
           'edge_compute_ms', 'cloud_compute_ms', 'preprocess_ms', 'postprocess_ms', 'codec_ms', 'cloud_queue_ms',
           'bytes')
# a split counts as having reached the oracle's when its segment mean is this close to the best
REACHED_TOLERANCE = 0.05
# link occupancy by the result and DDS's acknowledgements, as the simulator charges it
RESULT_BYTES = 2000


@dataclass
class LiveRun:
    """One recorded bench run: frame outcomes, camera frame times and partition states, times in s from t0."""

    label: str
    t0_ns: int
    frames: dict            # column -> array, one row per frame outcome (probes excluded)
    images_s: np.ndarray    # every camera frame's time
    states: dict            # column -> array of the partition states heard
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> 'LiveRun':
        """Read a run folder (``run.json``, ``frames.csv``, ``images.csv``, ``states.csv``) as the bench writes it."""
        folder = Path(folder)
        meta = json.loads((folder / 'run.json').read_text())
        t0 = int(meta['t0_ns'])
        frames = _columns(folder / 'frames.csv', NUMERIC)
        frames['time_s'] = (frames['stamp_ns'] - t0) / 1e9
        images = _columns(folder / 'images.csv', ('stamp_ns',))['stamp_ns']
        states = _columns(folder / 'states.csv', ('time_ns', 'split', 'bandwidth_mbps'))
        states['time_s'] = (states['time_ns'] - t0) / 1e9
        return cls(meta['label'], t0, frames, (np.unique(images) - t0) / 1e9, states, meta)

    @property
    def ok(self) -> np.ndarray:
        """Per frame row, whether it produced a result (status OK)."""
        return self.frames['status'] == Status.OK

    def e2e(self) -> tuple[np.ndarray, np.ndarray]:
        """(time_s, e2e_ms) of the frames that produced a result, in camera order."""
        order = np.argsort(self.frames['time_s'][self.ok])
        return self.frames['time_s'][self.ok][order], self.frames['e2e_ms'][self.ok][order]

    def splits(self) -> tuple[np.ndarray, np.ndarray]:
        """(time_s, split) of the frames that produced a result, in camera order."""
        order = np.argsort(self.frames['time_s'][self.ok])
        return self.frames['time_s'][self.ok][order], self.frames['split'][self.ok][order].astype(int)

    @property
    def mean_ms(self) -> float:
        """Mean e2e ms of the frames that produced a result (nan with none)."""
        e2e = self.e2e()[1]
        return float(e2e.mean()) if len(e2e) else float('nan')

    def accounting(self) -> dict:
        """Frames in against outcomes: in = out + dropped (stale) + lost + rejected + failed + missing."""
        counts = {s.name.lower(): int(np.sum(self.frames['status'] == s)) for s in Status}
        frames_in = len(self.images_s)
        return {'frames_in': frames_in, **counts,
                'missing': max(0, frames_in - len(np.unique(self.frames['stamp_ns'])))}


def _columns(path: Path, numeric) -> dict:
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    fields = rows[0].keys() if rows else numeric
    return {k: (np.array([float(r[k]) for r in rows]) if k in numeric else [r[k] for r in rows]) for k in fields}


def segment_edges(trace: Trace, duration_s: float, segment_s: float) -> np.ndarray:
    """Segments of at most ``segment_s`` that also start at the trace's step changes."""
    steps = trace.change_points(duration=duration_s)
    grid = [t for t in np.arange(0.0, duration_s, segment_s) if all(abs(t - s) >= 0.25 * segment_s for s in steps)]
    return np.array(sorted(set(grid) | set(steps) | {duration_s}))


def segment_means(run: LiveRun, edges: np.ndarray) -> np.ndarray:
    """Mean e2e of the frames sent in each segment (nan where none)."""
    t, e2e = run.e2e()
    index = np.searchsorted(edges, t, 'right') - 1
    return np.array([e2e[index == i].mean() if np.any(index == i) else np.nan for i in range(len(edges) - 1)])


@dataclass
class Oracle:
    """The live oracle: per segment between ``edges``, the fastest fixed split and its mean e2e ms."""

    edges: np.ndarray
    best_ms: np.ndarray     # per segment, the fastest fixed split's mean
    best_split: np.ndarray  # per segment (-1 where no fixed split has frames)
    means: dict             # split -> per-segment means

    def near_best(self, segment: int) -> set[int]:
        """The fixed splits whose mean in ``segment`` is within ``REACHED_TOLERANCE`` of the best."""
        best = self.best_ms[segment]
        return {k for k, m in self.means.items()
                if np.isfinite(m[segment]) and m[segment] <= best * (1 + REACHED_TOLERANCE)}

    def weighted(self, per_segment: np.ndarray) -> float:
        """Time-weighted mean over the segments where both the oracle and ``per_segment`` have frames."""
        keep = np.isfinite(per_segment) & np.isfinite(self.best_ms)
        widths = np.diff(self.edges)[keep]
        return float(np.sum(per_segment[keep] * widths) / np.sum(widths)) if keep.any() else float('nan')


def live_oracle(fixed: dict[int, LiveRun], edges: np.ndarray) -> Oracle:
    """The oracle over the fixed-split runs ``fixed`` (split -> run) for the segments between ``edges``."""
    means = {k: segment_means(r, edges) for k, r in fixed.items()}
    table = np.array([means[k] for k in sorted(means)])
    filled = np.where(np.isfinite(table), table, np.inf)
    best = filled.min(axis=0)
    split = np.array(sorted(means))[filled.argmin(axis=0)]
    return Oracle(edges, np.where(np.isfinite(best), best, np.nan), np.where(np.isfinite(best), split, -1), means)


def convergence(run: LiveRun, oracle: Oracle, changes: list[float]) -> list[dict]:
    """After each change, the frames (and seconds) until the run first serves at a split
    that is (near) the oracle's best for the segment the change starts.
    """
    t, split = run.splits()
    out = []
    for c in changes:
        segment = int(np.searchsorted(oracle.edges, c, 'right') - 1)
        if segment >= len(oracle.best_ms) or not np.isfinite(oracle.best_ms[segment]):
            continue
        wanted = oracle.near_best(segment)
        end = oracle.edges[segment + 1]
        after = np.flatnonzero((t >= c) & (t < end))
        hit = next((i for i in after if split[i] in wanted), None)
        out.append({'at_s': c, 'oracle_splits': sorted(wanted), 'reached': hit is not None,
                    'frames': int(hit - after[0] + 1) if hit is not None else len(after),
                    'seconds': float(t[hit] - c) if hit is not None else float(end - c)})
    return out


def overhead(run: LiveRun, trace: Trace, delay_ms: float) -> dict:
    """Per frame: e2e minus waiting for the busy pipeline, minus compute (pre/post-processing
    and the model on both sides), minus the ideal transfer (payload and result at the
    link's rate at that moment, plus propagation). What is left is serialization,
    codec, DDS and queueing; the codec part is also given alone.
    """
    f = {k: v[run.ok] for k, v in run.frames.items() if isinstance(v, np.ndarray)}
    if not len(f['e2e_ms']):
        return {}
    remote = f['split'] < run.meta['num_layers']
    # at edge-only the edge's "encode" slot holds its postprocessing and the result's publishing
    codec = np.where(remote, f['codec_ms'], 0.0)
    compute = (f['preprocess_ms'] + f['edge_compute_ms'] + f['cloud_compute_ms'] + f['postprocess_ms']
               + np.where(remote, 0.0, f['codec_ms']))
    sent = f['time_s'] + f['edge_ms'] / 1e3
    up = np.asarray(trace.finish(sent, 8.0 * f['bytes'])) - sent
    ideal = np.where(remote, (up + 8.0 * RESULT_BYTES / np.maximum(trace.rate_at(sent), 1.0)) * 1e3
                     + 2 * delay_ms, 0.0)
    rest = f['e2e_ms'] - f['edge_queue_ms'] - compute - ideal
    e2e = float(f['e2e_ms'].mean())
    mean_rest = float(rest.mean())
    return {'e2e_ms': e2e, 'overhead_ms': mean_rest, 'overhead_pct': 100 * mean_rest / e2e,
            'codec_ms': float(codec.mean()), 'overhead_without_codec_ms': float((rest - codec).mean()),
            'waiting_ms': float(f['edge_queue_ms'].mean()), 'compute_ms': float(compute.mean()),
            'ideal_transfer_ms': float(ideal.mean()),
            'within_target': bool(mean_rest <= max(0.05 * e2e, 3.0))}
