"""What a recorded run says about its robot, link and server, in the simulator's terms.

* The frames: each camera frame's final outcome (a late answer replaces its loss), and the shadow
  probes apart, from ``frame_timing`` and the time each record reached the robot.
* The link: every payload that crossed it (frames and probes) is a sample of its rate, as the
  policy's estimator takes it: the payload and the answer over what is left of the transfer after the
  fixed cost of a round trip, learned from the payloads that are small for the link.
* Each side's speed over time: its measured model time over what the profile on this machine says
  the same layers take, and apart from it the rest of its work (image intake, codecs,
  postprocessing), per second, kept constant until it moves by more than noise.

Only durations measured on one host, and the robot's own clock, are used.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..adaptation.estimators import LinkEstimator
from ..adaptation.frames import FrameRecord, Status, record_from_timing, stamp_ns
from ..adaptation.ledger import FrameLedger
from ..simulation.scenario import SimProfile
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
    edge_io: float   # the same for the rest of each side's work (see work_samples); nan where never measured
    cloud_io: float
    edge_load: Steps
    cloud_load: Steps
    noise: float
    intake_ms: float = 0.0  # the least a frame waited before the edge had it (camera delivery, conversion)
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
        stamps.append(stamp_ns(m.msg.header.stamp))
        (probes.append(r) if r.probe else ledger.add(m.msg, m.log_ns))
    if not stamps:
        raise ValueError(f'{rec.path}: no frame timings recorded (topic frame_timing)')
    t0 = min(stamps)
    def shift(r: FrameRecord) -> FrameRecord:
        return replace(r, at_s=r.at_s - t0 / 1e9)
    return [shift(r) for _, r in sorted(ledger.frames.items())], [shift(r) for r in probes], t0


def link_samples(served: list[FrameRecord], num_layers: int, rtt_ms: float | None = None
                 ) -> tuple[np.ndarray, np.ndarray, float]:
    """(send times s, rates bit/s, one-way fixed delay ms) of every payload that crossed the link; the
    round trip's fixed cost is ``rtt_ms`` (what the robot measured) if given, else what the link's
    estimator learns from the payloads that were small for the link (0 when none was).
    """
    crossed = sorted((r for r in served if r.split < num_layers and r.payload_bytes > 0), key=lambda r: r.at_s)
    if not crossed:
        raise ValueError('nothing crossed the link in this recording (edge-only all along): give the link to '
                         'replay on with --link, or record a run that sends to the server')
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


def work_samples(rec: Recording, t0_ns: int, profile: SimProfile, side: str, part: str) -> list[tuple[float, float]]:
    """(time s, measured / profiled) of one side's work on every frame and probe that got a result, against
    what the profile on this machine says the same work takes: ``part`` 'model', its layers; 'io', the rest
    (on the robot, taking the image in and encoding the payload, or postprocessing at edge-only; on the
    server, decoding and postprocessing). The two are apart because they slow down differently: copying an
    image is memory-bound, a convolution compute-bound, and a CPU quota throttles long work more.
    """
    n = profile.space.num_layers
    cum = np.concatenate([[0.0], np.cumsum(profile.layer_ms)])
    codec_ms = {(k, c): (e, d) for k, c, _, e, d in profile.extra}
    out = []
    for m in rec.of('frame_timing'):
        t, k = m.msg, m.msg.split
        if t.status != Status.OK or k > n or (side == 'cloud' and k == n):
            continue
        encode, decode = codec_ms.get((k, t.codec), (profile.encode_ms[k], profile.decode_ms[k]))
        if side == 'edge':
            done, profiled = ((t.edge_compute_ms if k > 0 else 0.0, cum[k]) if part == 'model' else
                              (t.edge_preprocess_ms + t.edge_encode_ms + (t.edge_compute_ms if k == 0 else 0.0),
                               profile.preprocess_ms + (profile.postprocess_ms if k == n else encode)))
            at = (stamp_ns(t.header.stamp) - t0_ns) / 1e9
        else:
            done, profiled = ((t.cloud_compute_ms, cum[n] - cum[k]) if part == 'model' else
                              (t.cloud_decode_ms + t.cloud_postprocess_ms, decode + profile.postprocess_ms))
            at = (m.log_ns - t0_ns) / 1e9 - (t.cloud_decode_ms + t.cloud_compute_ms + t.cloud_postprocess_ms) / 1e3
        if done > 0 and profiled > 0:
            out.append((at, done / profiled))
    return sorted(out)


def intake(rec: Recording) -> float:
    """The least time a frame that got a result waited at the edge before its work began, ms: what delivering
    and converting the camera image costs at best (the rest of the wait is the pipeline being busy).
    """
    waits = [m.msg.edge_queue_ms for m in rec.of('frame_timing') if m.msg.status == Status.OK and not m.msg.probe]
    return float(min(waits)) if waits else 0.0


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


def conditions(rec: Recording, profile: SimProfile, model: str = '', link: Trace | None = None) -> Conditions:
    """The recorded run's conditions against ``profile`` (its model profiled on this machine), on ``link``
    if given (else the link the transfers saw); raises ValueError when the recording cannot be replayed.
    """
    frames, probes, t0 = records(rec)
    named, policy = recorded_model(rec)
    n = profile.space.num_layers
    if any(r.split > n for r in frames + probes):
        raise ValueError(f'{rec.path}: splits up to {max(r.split for r in frames)}, but the model has {n} layers: '
                         'another model was recorded (give it with --model)')
    served = [r for r in frames if r.status == Status.OK]
    if not served:
        raise ValueError(f'{rec.path}: no frame got a result in this recording')
    duration = max(r.at_s for r in frames)
    rtts = [m.msg.rtt_ms for m in rec.of('partition_state') if m.msg.rtt_ms > 0]
    rtt = float(np.median(rtts)) if rtts else None
    if link is None:
        sent, rates, delay = link_samples(served + probes, n, rtt)
        link = link_trace(sent, rates, duration, f'{rec.path.stem} link')
    else:
        delay = (rtt or 0.0) / 2
    edge, edge_load, edge_noise = speed(work_samples(rec, t0, profile, 'edge', 'model'))
    cloud, cloud_load, cloud_noise = speed(work_samples(rec, t0, profile, 'cloud', 'model'))
    (edge_io, _, edge_io_noise), (cloud_io, _, cloud_io_noise) = (
        speed(work_samples(rec, t0, profile, side, 'io')) for side in ('edge', 'cloud'))
    return Conditions(model or named, policy, n, camera_rate(frames), duration, frames, probes,
                      link, delay, edge, cloud, edge_io, cloud_io, edge_load, cloud_load,
                      max(edge_noise, cloud_noise, edge_io_noise, cloud_io_noise), intake(rec), t0, list(rec.problems))
