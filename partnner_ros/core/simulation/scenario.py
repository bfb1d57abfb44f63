"""The simulated world: a model's measured costs, the platform, the scenario's
conditions, and the true cost of every split for every frame.

A frame served at split k from time s costs:

* edge: preprocessing and layers [0, k) from the measured profile (and the
  postprocessing at k = n), times the platform's edge slowdown and the edge load
  at s, plus encoding;
* upload: the payload through the bandwidth trace from the moment it is sent
  (the trace's rate while it is in transit), plus the one-way delay;
* cloud: layers [k, n) and the postprocessing, times the cloud load when the
  payload arrives, plus decoding; then the small result comes back the same way.

Compute times carry per-frame log-normal noise, drawn per frame index so that
every policy meets the same noise.
"""

from dataclasses import dataclass, field

import numpy as np

from ..adaptation.frames import FrameRecord, Status
from ..adaptation.split_space import SplitSpace
from ..model.profile_data import Profile
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
    extra: tuple = ()  # (split, codec, bytes, encode ms, decode ms): the other codecs a policy may choose

    @classmethod
    def from_profile(cls, profile: dict, codec: str = 'fp16+lz4', input_codec: str = 'jpeg',
                     choose_codecs: bool = False) -> 'SimProfile':
        """The model as profiled with ``codec`` for features and ``input_codec`` at split 0, and with
        ``choose_codecs``, every candidate codec the profile measured within the fidelity bound;
        raises ValueError when the profile lacks the default codecs' figures at a usable split.
        """
        space = SplitSpace.from_profile(profile, codec, input_codec, choose_codecs)
        p = Profile.parse(profile)
        pay = p.payloads(space.codec_for)
        extra = [(k, c, float(p.cuts[k]['bytes'][c]), float(p.cuts[k]['encode_ms'][c]),
                  float(p.cuts[k]['decode_ms'][c]))
                 for k in space.splits[:-1] for c in space.codecs()
                 if c != space.codec_for(k) and space.codec_allowed(k, c)]
        return cls(p.model, space, p.layer_ms, pay.bytes, pay.encode_ms, pay.decode_ms, p.profile_seconds,
                   p.preprocess_ms, p.postprocess_ms, tuple(extra))


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
    intake_ms: float = 0.0  # camera stamp to the frame in the edge's hands (delivery, conversion)

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
    """True costs of every option for a frame served from time s. An option is a split with a codec:
    options 0..n are split k with its default codec (option n is edge-only), and the profile's extra
    (split, codec) pairs follow.
    """

    def __init__(self, sc: Scenario):
        self.sc = sc
        p = sc.profile
        self.n = n = p.space.num_layers
        self.cum = np.concatenate([[0.0], np.cumsum(p.layer_ms)])
        self.opt_k = np.concatenate([np.arange(n + 1), [k for k, *_ in p.extra]]).astype(int)
        self.opt_codec = [p.space.codec_for(k) if k < n else '' for k in range(n + 1)] + [c for _, c, *_ in p.extra]
        extra = np.array([e[2:] for e in p.extra], dtype=float).reshape(-1, 3)
        self.bits = np.concatenate([np.nan_to_num(p.bytes, nan=0.0), extra[:, 0]]) * 8.0
        self.encode_ms = np.concatenate([p.encode_ms, extra[:, 1]])
        self.decode_ms = np.concatenate([p.decode_ms, extra[:, 2]])
        self.usable = np.concatenate([sorted(p.space.splits), np.arange(n + 1, len(self.opt_k))]).astype(int)
        self._index = {(int(k), c): i for i, (k, c) in enumerate(zip(self.opt_k, self.opt_codec))}
        frames = int(sc.duration * sc.fps) + 2
        rng = np.random.default_rng(sc.seed)
        self.noise_edge = np.exp(rng.normal(0.0, sc.noise, frames))
        self.noise_cloud = np.exp(rng.normal(0.0, sc.noise, frames))

    def option(self, split: int, codec: str | None = None) -> int:
        """The option serving ``split`` with ``codec`` (None, or one the profile lacks: the default)."""
        return self._index.get((split, codec or ''), split)

    def costs(self, frame: int | np.ndarray, s: float | np.ndarray, options=None):
        """(e2e, edge, cloud, edge_scale, cloud_scale) in ms for the given options (default all)."""
        sc, n = self.sc, self.n
        o = np.arange(len(self.opt_k)) if options is None else np.asarray(options)
        ks = self.opt_k[o]
        edge_scale = sc.platform.edge_slowdown * sc.edge_load.at(s) * self.noise_edge[frame]
        p = sc.profile
        edge = ((p.preprocess_ms + self.cum[ks] + np.where(ks == n, p.postprocess_ms, 0.0)) * edge_scale
                + self.encode_ms[o] * sc.platform.edge_slowdown)
        sent = s + edge / 1e3
        arrived = sc.trace.finish(sent, self.bits[o]) + sc.delay_ms / 1e3
        cloud_scale = self.noise_cloud[frame] / sc.platform.cloud_speedup * sc.cloud_load.at(arrived)
        cloud = ((self.cum[n] - self.cum[ks] + p.postprocess_ms) * cloud_scale
                 + self.decode_ms[o] / sc.platform.cloud_speedup)
        back = sc.trace.finish(arrived + cloud / 1e3, 8.0 * sc.result_bytes) + sc.delay_ms / 1e3
        e2e = np.where(ks == n, edge, (back - s) * 1e3)
        cloud = np.where(ks == n, 0.0, cloud)
        return e2e, edge, cloud, edge_scale, cloud_scale

    def probe_done(self, costs, s: float, k: int, p: int) -> float:
        """Until when a shadow probe with option p, made from the frame served with option k
        from s (``costs``: that frame's ``costs`` over all options), holds the pipeline:
        the edge encodes it (first running the layers between their splits when p's is
        deeper) after the real frame is sent, and while frames use the link its payload
        queues behind the real one. Its cloud work overlaps the next frame's edge work.
        """
        sc, n = self.sc, self.n
        _, edge, _, es, _ = costs
        sent = s + edge[k] / 1e3
        head_ms = (max(self.cum[self.opt_k[p]] - self.cum[self.opt_k[k]], 0.0) * es
                   + self.encode_ms[p] * sc.platform.edge_slowdown)
        done = sent + head_ms / 1e3
        if self.opt_k[p] < n and self.opt_k[k] < n:
            link_free = float(sc.trace.finish(sent, self.bits[k]))
            done = float(sc.trace.finish(max(done, link_free), self.bits[p]))
        return float(done)

    def record(self, frame: int, costs, o: int, wait_ms: float, start_s: float, probe: bool = False) -> FrameRecord:
        """The FrameRecord the manager would build for the frame served with option o from ``start_s``
        (``costs``: that frame's ``costs`` over all options).
        """
        e2e, edge, cloud, es, cs = costs
        e2e, edge, cloud, cs = float(e2e[o]), float(edge[o]), float(cloud[o]), float(cs[o])
        layer, n, k = self.sc.profile.layer_ms, self.n, int(self.opt_k[o])
        return FrameRecord(
            frame, k, Status.OK, int(self.bits[o] / 8), e2e + wait_ms, edge + wait_ms, cloud,
            edge_compute_ms=float(self.cum[k] * es), cloud_compute_ms=float((self.cum[n] - self.cum[k]) * cs),
            codec_ms=float(self.encode_ms[o] * self.sc.platform.edge_slowdown
                           + self.decode_ms[o] / self.sc.platform.cloud_speedup),
            edge_layer_ms=tuple(layer[:k] * es), cloud_layer_ms=tuple(layer[k:] * cs), probe=probe,
            at_s=start_s + e2e / 1e3, codec=self.opt_codec[o],
            pre_post_ms=self.pre_post_ms(k, es, cs))

    def pre_post_ms(self, k: int, edge_scale: float, cloud_scale: float) -> float:
        """A frame's preprocessing (on the edge) and postprocessing (where the last layer ran) at split k."""
        p = self.sc.profile
        return float(p.preprocess_ms * edge_scale + p.postprocess_ms * (edge_scale if k == self.n else cloud_scale))
