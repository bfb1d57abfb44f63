"""The partnner policy: adaptive, platform-agnostic split selection from online
estimates of both sides, the link and its spread, with budgeted shadow probes.
"""

import math
import random

import numpy as np

from .estimators import LinkEstimator, ShapeProfile, StepTracker
from .frames import FrameRecord, Status
from .policy import Policy
from .probing import ProbeBudget, doubt
from .split_space import SplitSpace


def _fmt_rate(bps: float) -> str:
    return f'{bps / 1e6:.2f} Mbit/s' if bps >= 1e5 else f'{bps / 1e3:.0f} kbit/s'


class Partnner(Policy):
    """Adaptive, platform-agnostic split selection (PArtNNer-style).

    Predicted latency of split k = edge time of layers [0, k) + codec time +
    transfer of the payload + cloud time of layers [k, n) (on a shared server, plus
    its queue wait and congestion price, see ``server_load``) + the image's
    preprocessing and the results' postprocessing, as recent frames at edge-only and
    offloaded took them (a slow robot's non-maximum suppression is no small part of
    edge-only). Each side's time is a learned per-layer shape (from the model's
    compute weights, refined by the per-layer durations the nodes measure) times a
    scale tracked with step detection, so a change of load is followed within a few
    frames; the link's transfer time is predicted from the distribution of recent
    rates (E[1/B], see :mod:`.rate_spread`). Nothing is profiled in advance: the
    first frames run on the edge (the robot can always serve itself) with shadow
    probes that send the image to the cloud, and a side the current split leaves
    unobserved is kept honest by shadow probes, no more than ``probe_share`` of the
    uplink and of the server's time allow (:mod:`.probing`), and rarer while the
    probed split looks clearly worse and was measured recently.
    A switch needs a predicted gain above ``hysteresis`` (relative) plus
    ``margin_ms``, and, toward a split that sends more, ``doubt`` standard errors
    of the link's estimate, so noise does not make the split flap and a bursty,
    little-measured link is not trusted on one good moment.
    """

    name = 'partnner'
    probe_overhead = 0.05  # latency the cloud-only probes may cost, relative
    sliver = 0.1  # a side running less than this share of the model is probed with all of it

    stale_frames = 32.0  # an estimate this many frames old is in doubt by 1 - 1/e, whatever it predicts
    reshuffle = 100  # server load updates (10 s of heartbeats) between draws of the price sensitivity

    def __init__(self, space: SplitSpace, hysteresis: float = 0.02, margin_ms: float = 1.0, doubt: float = 0.25,
                 probe_share: float = 0.05, seed: int = 0):
        super().__init__(space.num_layers)
        self.space = space
        self.splits = np.array(space.splits)
        self.hysteresis = hysteresis
        self.doubt = doubt
        self.margin_ms = margin_ms
        self.edge = ShapeProfile(space.weights)
        self.cloud = ShapeProfile(space.weights)
        self.link = LinkEstimator()
        # the image's preprocessing and the results' postprocessing, at edge-only (True) and offloaded
        self.pre_post = {True: StepTracker(), False: StepTracker()}
        self.codecs = space.codecs()
        # where each codec may carry a split's payload, fixed for the model: not re-derived every decision
        self.allowed = {c: np.array([space.codec_allowed(k, c) for k in range(space.num_layers + 1)])
                        for c in self.codecs}
        self.prior = {c: space.prior_bytes_for(c) for c in self.codecs}
        self.bytes_seen: dict[tuple[int, str], float] = {}  # (split, codec) -> last payload bytes
        self.byte_ratio = {c: 1.0 for c in self.codecs}   # observed / prior
        self.codec_seen: dict[tuple[int, str], float] = {}  # (split, codec) -> last encode + decode ms
        self.codec_ms_per_byte = {c: 0.0 for c in self.codecs}
        self._codec_at = [space.codec_for(k) for k in range(space.num_layers + 1)]  # chosen by predict()
        self._payload = space.prior_bytes()
        self.current: int | None = None
        self._reason: str | None = None
        self._reason_for: tuple[int, str] | None = None  # the split and codec the reason explains
        self.budget = ProbeBudget(probe_share)
        self._unprobed = 0  # frames since the other side (or the link) was last measured
        self._transfers = 0  # payloads the link has carried, probes included
        self._probe: tuple[int, int] | None = None  # (split, every) planned by choose()
        self.server_wait_ms = self.server_price = 0.0  # a shared server's load (see server_load)
        self._rng = random.Random(seed)
        self._price_scale, self._load_updates = 1.0, 0

    # --- learning -----------------------------------------------------------------------------
    def observe(self, r: FrameRecord) -> None:
        """Update the edge, cloud, link and codec estimates from a served frame, and the cloud's from a lost
        one (others are ignored).
        """
        self.link.advance(r.at_s)
        if r.status == Status.LOST:
            self._timed_out(r)
        if r.status != Status.OK:
            return
        n, k = self.num_layers, r.split
        self._unprobed = 0 if r.probe else self._unprobed + 1
        if not (r.probe and k == n):  # an edge-only probe's results are not postprocessed
            self.pre_post[k == n].update(r.pre_post_ms)
        if k > 0 and r.edge_compute_ms > 0:
            self.edge.observe(0, k, r.edge_compute_ms, r.edge_layer_ms or None)
        if k < n and r.cloud_compute_ms > 0:
            self.cloud.observe(k, n, r.cloud_compute_ms, r.cloud_layer_ms or None)
        if k < n and r.payload_bytes > 0:
            self.link.observe(r.payload_bytes, r.transfer_ms, r.at_s, r.e2e_ms if r.probe else None)
            self._transfers += 1
            self._learn_codec(k, r.codec or self.space.codec_for(k), r.payload_bytes, r.codec_ms)

    def _timed_out(self, r: FrameRecord) -> None:
        """Frame ``r``, sent at split k, had no answer after ``r.e2e_ms``: the server took at least what is left
        of that after the edge's layers, the transfer and the queue wait expected. Without this a server
        slowed past the robot's answer timeout would teach nothing (its answers come too late, if ever) and
        the split would stay on it, losing frame after frame.
        """
        k, n = r.split, self.num_layers
        if k >= n or not (self.edge.known and self.cloud.known and self.link.known):
            return
        expected = self.edge.predict(0, k) + float(self.link.transfer_ms(self._payload[k])) + self.server_wait_ms
        at_least = (r.e2e_ms - expected) / (1 + self.server_price)
        if at_least > self.cloud.predict(k, n):
            self.cloud.observe(k, n, at_least)

    def _learn_codec(self, k: int, codec: str, payload_bytes: int, codec_ms: float) -> None:
        if codec not in self.prior:
            return
        self.bytes_seen[k, codec] = float(payload_bytes)
        if self.prior[codec][k] > 0:
            self.byte_ratio[codec] = 0.7 * self.byte_ratio[codec] + 0.3 * payload_bytes / self.prior[codec][k]
        self.codec_seen[k, codec] = codec_ms
        sample, old = codec_ms / payload_bytes, self.codec_ms_per_byte[codec]
        self.codec_ms_per_byte[codec] = sample if not old else 0.8 * old + 0.2 * sample

    def server_load(self, wait_ms: float, price: float) -> None:
        """A shared server's published load: requests wait ``wait_ms`` in its queue, and each ms of work sent
        to it costs ``price`` ms more (its congestion price, see :mod:`partnner_ros.core.fleet.load`). Every
        split that uses the server is charged both from now on, the price times this robot's own
        sensitivity: alike robots that all saw one price would all move at once, so each draws how much it
        heeds the price (log-uniform, half to twice) and draws again every ``reshuffle`` updates, so the
        robots take turns to yield the server.
        """
        if self._load_updates % self.reshuffle == 0:
            self._price_scale = math.exp(self._rng.uniform(-math.log(2), math.log(2)))
        self._load_updates += 1
        self.server_wait_ms, self.server_price = max(0.0, wait_ms), max(0.0, price) * self._price_scale

    def ping(self, rtt_ms: float) -> None:
        """Feed a ping's round trip (ms) to the link estimate."""
        self.link.ping(rtt_ms)

    # --- prediction ---------------------------------------------------------------------------
    def payload_bytes(self) -> np.ndarray:
        """Expected payload bytes per split 0..n with the codec ``predict`` chose there."""
        return self._payload.copy()

    def codec_for(self, split: int) -> str:
        """The codec ``predict`` chose for ``split`` ('' at edge-only)."""
        return '' if split == self.num_layers else self._codec_at[split]

    def _payload_of(self, codec: str) -> np.ndarray:
        """Expected bytes of ``codec`` per split: measured where seen, else the prior scaled by what was seen."""
        out = self.prior[codec] * self.byte_ratio[codec]
        for (k, c), b in self.bytes_seen.items():
            if c == codec:
                out[k] = b
        return out

    def _codec_ms_of(self, codec: str, payload: np.ndarray) -> np.ndarray:
        out = payload * self.codec_ms_per_byte[codec]
        for (k, c), ms in self.codec_seen.items():
            if c == codec:
                out[k] = ms
        return out

    def predict(self) -> np.ndarray:
        """Predicted e2e ms of every split 0..n, each with its best allowed codec (nan where a needed
        estimate is missing, inf where no codec is allowed).
        """
        n = self.num_layers
        ks = np.arange(n + 1)
        edge = self.edge.cumulative() * self.edge.scale.value if self.edge.known else np.where(ks == 0, 0.0, np.nan)
        cloud = ((1 - self.cloud.cumulative()) * self.cloud.scale.value if self.cloud.known
                 else np.where(ks == n, 0.0, np.nan))
        cloud = np.where(ks < n, cloud * (1 + self.server_price) + self.server_wait_ms, 0.0)
        pred, payload = np.full(n + 1, np.inf), np.zeros(n + 1)
        kept = list(self._codec_at)
        for codec in self.codecs:
            size = self._payload_of(codec)
            transfer = self.link.transfer_ms(size) if self.link.known else np.full(n + 1, np.nan)
            total = edge + self._codec_ms_of(codec, size) + transfer + cloud
            # a split keeps its codec unless another beats it by the hysteresis, so codecs do not flap
            total = np.where([c == codec for c in kept], total / (1 + self.hysteresis) - self.margin_ms, total)
            better = self.allowed[codec] & (~np.isfinite(pred) | (total < pred))
            for i in np.flatnonzero(better):
                pred[i], payload[i], self._codec_at[i] = total[i], size[i], codec
        for k in range(n):  # the kept codec's true prediction, not its handicap
            if self._codec_at[k] == kept[k] and np.isfinite(pred[k]):
                pred[k] = (pred[k] + self.margin_ms) * (1 + self.hysteresis)
        pred[n], payload[n] = edge[n], 0.0
        pred[:n] += self._pre_post_ms(False)
        pred[n] += self._pre_post_ms(True)
        self._payload = payload
        return pred

    def _pre_post_ms(self, edge_only: bool) -> float:
        tracker = self.pre_post[edge_only]
        return tracker.value if tracker.known else 0.0

    def choose(self) -> tuple[int, str]:
        """The split with the lowest predicted latency (the current one kept unless beaten by more than the
        hysteresis), and why; split 0, then n, while a side or the link is still unmeasured.
        """
        n = self.num_layers
        if self._exploring():
            # the robot can always serve itself: measure the cloud and the link by probes meanwhile
            self.current = n
            return n, 'exploring: measuring the cloud and the link with probes, serving on the edge'
        pred = self.predict()
        if self._transfers < self.link.spread.prior_samples and self._undecided(pred):
            self.current, self._probe = n, (0, 2)
            return n, 'exploring: the link is measured too few times to tell the edge from the cloud'
        usable = pred[self.splits]
        best = int(self.splits[int(np.nanargmin(usable))])
        cur = self.current
        if cur is not None and np.isfinite(pred[cur]) and \
                pred[cur] <= pred[best] + self._switch_margin(cur, best, pred):
            best = cur
        if (best, self.codec_for(best)) != self._reason_for or self._reason is None:
            self._reason_for = (best, self.codec_for(best))
            codec = f' ({self.codec_for(best)})' if best < n else ''
            self._reason = (f'predicted {pred[best]:.0f} ms at split {best}{codec} (edge-only {pred[n]:.0f}, '
                            f'cloud-only {pred[0]:.0f}); link {_fmt_rate(self.link.bandwidth.value)}, edge model '
                            f'{self.edge.scale.value:.0f} ms, cloud model {self.cloud.scale.value:.0f} ms')
        self.current = best
        self._probe = self._plan_probe(pred)
        return best, self._reason

    def _switch_margin(self, cur: int, best: int, pred: np.ndarray) -> float:
        """How much better ``best`` must be predicted to leave ``cur``: the relative hysteresis and the
        fixed margin, and, when ``best`` sends more than ``cur``, ``doubt`` standard errors of the
        predicted difference: a bursty, little-measured link needs clear evidence before more goes over
        it, a steady one almost none, and retreating from it needs none.
        """
        payload = self.payload_bytes()[[cur, best]]
        if payload[1] <= payload[0]:
            return pred[best] * self.hysteresis + self.margin_ms
        error = float(np.hypot(*self.link.transfer_error_ms(payload)))
        return pred[best] * self.hysteresis + self.margin_ms + self.doubt * error

    def _undecided(self, pred: np.ndarray) -> bool:
        """Whether edge-only and the best split that offloads are within two standard errors of the link's
        estimate of each other: a first transfer or two on a bursty link may have met a good or a bad moment.
        """
        n = self.num_layers
        offload = self.splits[self.splits < n]
        best = int(offload[int(np.nanargmin(pred[offload]))])
        error = float(self.link.transfer_error_ms([self.payload_bytes()[best]])[0])
        return bool(abs(pred[n] - pred[best]) < 2 * error)

    def _exploring(self) -> bool:
        return not (self.edge.known and self.cloud.known and self.link.known)

    def probe_split(self) -> int | None:
        """Split 0 while the cloud and link are unmeasured; else the split ``choose`` planned to probe: 0
        while the cloud runs less than ``sliver`` of the model, an edge split at cloud-only, or none.
        """
        if self._exploring():
            return 0
        return self._probe[0] if self._probe else None

    @property
    def probe_every(self) -> int:
        """Every other frame while exploring; else as ``choose`` planned (see ``_plan_probe``)."""
        if self._exploring():
            return 2
        return self._probe[1] if self._probe else 0

    def _plan_probe(self, pred: np.ndarray) -> tuple[int, int] | None:
        """The split to probe and how often, within the probe budget. Edge-only (or a cloud share too
        small to tell its speed by) probes the image: it costs the edge nothing and makes the cloud run
        the whole model. Cloud-only probes the best split that runs layers on the edge, also no more
        often than keeps the frames it delays under ``probe_overhead``.
        """
        cur = self.current
        if cur == 0:
            k, every = self._plan_edge_probe(pred)
            return k, max(every, self._budget_every(k, pred))
        if 1 - self.cloud.cumulative()[cur] < self.sliver:
            return 0, self._budget_every(0, pred)
        return None

    def _budget_every(self, p: int, pred: np.ndarray) -> int:
        n, cur = self.num_layers, self.current
        payload = float(self.payload_bytes()[p])
        error = math.hypot(float(self.link.transfer_error_ms([payload])[0]), 0.1 * pred[p])
        stale = 1.0 - math.exp(-self._unprobed / self.stale_frames)
        return self.budget.every(payload, self.cloud.predict(p, n), float(pred[cur]), self.link.budget_bps,
                                 max(doubt(float(pred[p] - pred[cur]), error), stale))

    def _plan_edge_probe(self, pred: np.ndarray) -> tuple[int, int]:
        """At cloud-only: the split to probe (the best that runs layers on the edge), and
        how often. The probe runs the head on the edge after the frame is sent, holding the
        pipeline for up to the head's whole time: a frame at cloud-only on a bursty link is
        usually much faster than its mean prediction, so the head is charged in full, and
        the probe runs seldom enough that this costs at most ``probe_overhead`` of the
        frames' time (the period is a power of two, so it rarely changes).
        """
        k = int(min((k for k in self.space.splits if k > 0),
                    key=lambda k: pred[k] if np.isfinite(pred[k]) else np.inf))
        every = self.edge.predict(0, k) / (self.probe_overhead * max(pred[0], 1e-3))
        return k, int(min(2 ** max(1, math.ceil(math.log2(max(every, 1.0)))), 64))
