"""What a recorded run says about its robot, link and server, in the simulator's terms.

* The frames: each camera frame's final outcome (a late answer replaces its loss), and the shadow
  probes apart, from ``frame_timing`` and the time each record reached the robot.
* The link: every payload that crossed it (frames and probes) is a sample of its rate, as the
  policy's estimator takes it: the payload and the answer over what is left of the transfer after the
  fixed cost of a round trip, learned from the payloads that are small for the link.
* Each side's speed over time: its measured model time over what the profile on this machine says
  the same layers take, per second, kept constant until it moves by more than noise.

Only durations measured on one host, and the robot's own clock, are used.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from ..adaptation.estimators import LinkEstimator
from ..adaptation.frames import FrameRecord, Status, record_from_timing
from ..adaptation.ledger import FrameLedger
from ..simulation.traces import Steps, Trace
from .bag import Recording

RESULT_BYTES = 2000  # the answer's share of a transfer, as the simulator charges it
BIN_S = 1.0          # speed samples are taken per second
STEP = math.log(1.2)  # a speed change smaller than this is noise


@dataclass
class Conditions:
    """A recorded run: its frames and probes (camera order), the model, the camera's rate, the link's
    rate per transfer, its one-way fixed delay, and each side's speed: the typical factor on the profiled
    layer times (nan where never measured), and over time, relative to that.
    """

    model: str
    policy: str
    num_layers: int
    fps: float
    duration_s: float
    frames: list[FrameRecord]
    probes: list[FrameRecord]
    trace: Trace
    delay_ms: float
    edge_factor: float
    cloud_factor: float
    edge_load: Steps
    cloud_load: Steps
    noise: float
    t0_ns: int = 0  # the first camera stamp (the robot's clock): frame times count from it
    problems: list[str] = field(default_factory=list)

    @property
    def served(self) -> list[FrameRecord]:
        """The frames that got a result."""
        return [r for r in self.frames if r.status == Status.OK]


def records(rec: Recording) -> tuple[list[FrameRecord], list[FrameRecord], int]:
    """(frames, probes, t0_ns) from the recording's frame timings: frames in camera order with their
    final outcome, probes in arrival order; times (``at_s``) in seconds from the first camera stamp.
    """
    ledger = FrameLedger()
    probes = []
    stamps = []
    for m in rec.of('frame_timing'):
        try:
            r = record_from_timing(m.msg, m.log_ns)
        except (ValueError, AttributeError, TypeError):
            continue
        stamps.append(m.msg.header.stamp.sec * 1_000_000_000 + m.msg.header.stamp.nanosec)
        (probes.append(r) if r.probe else ledger.add(m.msg, m.log_ns))
    if not stamps:
        raise ValueError(f'{rec.path}: no frame timings recorded (topic frame_timing)')
    t0 = min(stamps)
    shift = lambda r: FrameRecord(**{**r.__dict__, 'at_s': r.at_s - t0 / 1e9})  # noqa: E731
    return [shift(r) for _, r in sorted(ledger.frames.items())], [shift(r) for r in probes], t0


def link_samples(served: list[FrameRecord], num_layers: int, rtt_ms: float | None = None
                 ) -> tuple[np.ndarray, np.ndarray, float]:
    """(send times s, rates bit/s, one-way fixed delay ms) of every payload that crossed the link; the
    round trip's fixed cost is ``rtt_ms`` (what the robot measured) if given, else what the link's
    estimator learns from the payloads that were small for the link (0 when none was).
    """
    crossed = sorted((r for r in served if r.split < num_layers and r.payload_bytes > 0), key=lambda r: r.at_s)
    if not crossed:
        raise ValueError('nothing crossed the link in this recording (edge-only all along): there is no link '
                         'to replay; record a run that sends to the server (a split below the model, or partnner)')
    if rtt_ms is None:
        link = LinkEstimator()
        for r in crossed:
            link.observe(r.payload_bytes, r.transfer_ms, r.at_s)
        rtt_ms = link.fixed_ms() if link.fixed.known else 0.0
    fixed = rtt_ms
    sent = np.array([r.at_s - (r.e2e_ms - r.edge_ms) / 1e3 for r in crossed])
    wire_ms = np.array([max(r.transfer_ms - fixed, 0.05 * r.transfer_ms, 0.01) for r in crossed])
    rates = 8.0 * (np.array([r.payload_bytes for r in crossed]) + RESULT_BYTES) / (wire_ms / 1e3)
    return sent, rates, fixed / 2


def link_trace(sent: np.ndarray, rates: np.ndarray, duration_s: float, name: str) -> Trace:
    """The rate of each transfer from when it was sent until the next; held to the end of the run."""
    times, keep = np.unique(np.maximum(sent, 0.0), return_index=True)
    times, mbps = list(times), list(rates[keep] / 1e6)
    times[0] = 0.0
    if duration_s > times[-1]:
        times.append(duration_s)
        mbps.append(mbps[-1])
    return Trace(times, mbps, name)


def speed(samples: list[tuple[float, float]]) -> tuple[float, Steps, float]:
    """A side's typical speed factor from (time s, factor) samples (their median; nan with none), the
    factor over time relative to it (per second, the median, kept until it moves by more than
    ``STEP``), and the per-frame noise around that (the standard deviation of log factor in a second).
    """
    if not samples:
        return float('nan'), Steps(), 0.0
    t = np.array([s for s, _ in samples])
    typical = float(np.median([x for _, x in samples]))
    f = np.log(np.array([x for _, x in samples]) / typical)
    bins = np.floor(np.maximum(t, 0.0) / BIN_S).astype(int)
    points: list[tuple[float, float]] = []
    residuals = []
    for b in np.unique(bins):
        level = float(np.median(f[bins == b]))
        residuals.extend(f[bins == b] - level)
        if not points or abs(level - math.log(points[-1][1])) > STEP:
            points.append((0.0 if not points else b * BIN_S, math.exp(level)))
    return typical, Steps(tuple(points)), float(np.std(residuals))


def side_samples(served: list[FrameRecord], probes: list[FrameRecord], cum: np.ndarray,
                 side: str) -> list[tuple[float, float]]:
    """(time s, measured / profiled) of one side's model time, from every served frame and probe that ran
    some of its layers (``cum``: the profile's cumulative layer ms, 0..n).
    """
    n = len(cum) - 1
    out = []
    for r in sorted(served + probes, key=lambda r: r.at_s):
        k = r.split
        if side == 'edge' and k > 0 and r.edge_compute_ms > 0 and cum[k] > 0:
            out.append((r.at_s - r.e2e_ms / 1e3, r.edge_compute_ms / cum[k]))
        elif side == 'cloud' and k < n and r.cloud_compute_ms > 0 and cum[n] > cum[k]:
            out.append((r.at_s - r.cloud_ms / 1e3, r.cloud_compute_ms / (cum[n] - cum[k])))
    return out


def camera_rate(frames: list[FrameRecord]) -> float:
    """Frames per second the camera gave: the frames recorded (served, dropped or lost) over their span."""
    stamps = sorted(r.at_s - r.e2e_ms / 1e3 for r in frames)
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    return (len(stamps) - 1) / span if span > 0 else 1.0


def recorded_model(rec: Recording) -> tuple[str, str]:
    """(model name, policy) from the edge's diagnostics and the partition states ('' when absent)."""
    model = next((kv.value for m in rec.of('diagnostics') for status in m.msg.status for kv in status.values
                  if kv.key == 'model' and status.name.rstrip().endswith('/edge')), '')
    policy = next((m.msg.policy for m in reversed(rec.of('partition_state'))), '')
    return model, policy


def conditions(rec: Recording, cum_ms: np.ndarray, model: str = '') -> Conditions:
    """The recorded run's conditions against a profile of its model (``cum_ms``: cumulative layer ms, the
    model's layers 0..n on this machine); raises ValueError when the recording cannot be replayed.
    """
    frames, probes, t0 = records(rec)
    named, policy = recorded_model(rec)
    n = len(cum_ms) - 1
    if any(r.split > n for r in frames + probes):
        raise ValueError(f'{rec.path}: splits up to {max(r.split for r in frames)}, but the model has {n} layers: '
                         'another model was recorded (give it with --model)')
    served = [r for r in frames if r.status == Status.OK]
    if not served:
        raise ValueError(f'{rec.path}: no frame got a result in this recording')
    duration = max(r.at_s for r in frames)
    rtts = [m.msg.rtt_ms for m in rec.of('partition_state') if m.msg.rtt_ms > 0]
    sent, rates, delay = link_samples(served + probes, n, float(np.median(rtts)) if rtts else None)
    edge, edge_load, edge_noise = speed(side_samples(served, probes, cum_ms, 'edge'))
    cloud, cloud_load, cloud_noise = speed(side_samples(served, probes, cum_ms, 'cloud'))
    return Conditions(model or named, policy, n, camera_rate(frames), duration, frames, probes,
                      link_trace(sent, rates, duration, f'{rec.path.stem} link'), delay, edge, cloud, edge_load,
                      cloud_load, max(edge_noise, cloud_noise), t0, list(rec.problems))
