"""Split policies behind one interface. The live partition manager and the
simulator drive the same objects: ``observe`` every frame's outcome, ``choose``
the split for the next frames, and ``probe_split`` names a split worth measuring
with a shadow copy of a frame (its result is not used, so it costs no latency).
"""

import math
from abc import ABC, abstractmethod

import numpy as np

from .estimators import LinkEstimator, ShapeProfile
from .frames import FrameRecord, Status
from .probing import ProbeBudget, doubt
from .split_space import SplitSpace


class Policy(ABC):
    """A split policy over layers 0..``num_layers``: learns from frame outcomes, chooses splits."""

    name = ''

    def __init__(self, num_layers: int):
        self.num_layers = num_layers

    @property
    def probe_every(self) -> int:
        """Shadow-probe every this many frames (0: never probe)."""
        return 0

    def observe(self, record: FrameRecord) -> None:  # noqa: B027 - a hook; the static policies learn nothing
        """Learn from one frame's outcome; the static policies ignore it."""

    @abstractmethod
    def choose(self) -> tuple[int, str]:
        """The split to use from now on, and why."""

    def probe_split(self) -> int | None:
        """A split to measure with shadow probes, or None."""
        return None


class EdgeOnly(Policy):
    """Always split ``num_layers``: the whole model on the edge."""

    name = 'edge_only'

    def choose(self):
        """Split ``num_layers`` (edge-only), with the reason."""
        return self.num_layers, 'edge_only policy'


class CloudOnly(Policy):
    """Always split 0: the image goes to the cloud, which runs the whole model."""

    name = 'cloud_only'

    def choose(self):
        """Split 0 (cloud-only), with the reason."""
        return 0, 'cloud_only policy'


class Fixed(Policy):
    """The split the user set, never changed by measurements."""

    name = 'fixed'

    def __init__(self, num_layers: int, split: int):
        super().__init__(num_layers)
        self.split = split

    def set_split(self, split: int) -> None:
        """Use ``split`` from now on; raises ValueError outside ``[0, num_layers]``."""
        if not 0 <= split <= self.num_layers:
            raise ValueError(f'split must be in [0, {self.num_layers}], got {split}')
        self.split = split

    def choose(self):
        """The user's split, with the reason."""
        return self.split, f'fixed split {self.split} set by the user'


def _fmt_rate(bps: float) -> str:
    return f'{bps / 1e6:.2f} Mbit/s' if bps >= 1e5 else f'{bps / 1e3:.0f} kbit/s'


class Partnner(Policy):
    """Adaptive, platform-agnostic split selection (PArtNNer-style).

    Predicted latency of split k = edge time of layers [0, k) + codec time + transfer
    of the payload + cloud time of layers [k, n). Each side's time is a learned
    per-layer shape (from the model's compute weights, refined by the per-layer
    durations the nodes measure) times a scale tracked with step detection, so a
    change of load is followed within a few frames; the link's transfer time is
    predicted from the distribution of recent rates (E[1/B], see
    :mod:`.rate_spread`). Nothing is profiled in advance: the first frames run on
    the edge (the robot can always serve itself) with shadow probes that send the
    image to the cloud, and a side the current split leaves unobserved is kept
    honest by shadow probes, no more than ``probe_share`` of the uplink and of the
    server's time allow (:mod:`.probing`), and rarer while the probed split looks
    clearly worse and was measured recently.
    A switch needs a predicted gain above ``hysteresis`` (relative) plus
    ``margin_ms``, and, toward a split that sends more, ``doubt`` standard errors
    of the link's estimate, so noise does not make the split flap and a bursty,
    little-measured link is not trusted on one good moment.
    """

    name = 'partnner'
    probe_overhead = 0.05  # latency the cloud-only probes may cost, relative
    sliver = 0.1  # a side running less than this share of the model is probed with all of it

    stale_frames = 32.0  # an estimate this many frames old is in doubt by 1 - 1/e, whatever it predicts

    def __init__(self, space: SplitSpace, hysteresis: float = 0.02, margin_ms: float = 1.0, doubt: float = 0.25,
                 probe_share: float = 0.05):
        super().__init__(space.num_layers)
        self.space = space
        self.splits = np.array(space.splits)
        self.hysteresis = hysteresis
        self.doubt = doubt
        self.margin_ms = margin_ms
        self.edge = ShapeProfile(space.weights)
        self.cloud = ShapeProfile(space.weights)
        self.link = LinkEstimator()
        self.prior_bytes = space.prior_bytes()
        self.bytes_seen: dict[int, float] = {}
        self.byte_ratio = {True: 1.0, False: 1.0}  # observed / prior, for split 0 and for features
        self.codec_seen: dict[int, float] = {}
        self.codec_ms_per_byte = 0.0
        self.current: int | None = None
        self._reason: str | None = None
        self.budget = ProbeBudget(probe_share)
        self._unprobed = 0  # frames since the other side (or the link) was last measured
        self._probe: tuple[int, int] | None = None  # (split, every) planned by choose()

    # --- learning -----------------------------------------------------------------------------
    def observe(self, r: FrameRecord) -> None:
        """Update the edge, cloud, link and codec estimates from a served frame (others are ignored)."""
        if r.status != Status.OK:
            return
        n, k = self.num_layers, r.split
        self._unprobed = 0 if r.probe else self._unprobed + 1
        if k > 0 and r.edge_compute_ms > 0:
            self.edge.observe(0, k, r.edge_compute_ms, r.edge_layer_ms or None)
        if k < n and r.cloud_compute_ms > 0:
            self.cloud.observe(k, n, r.cloud_compute_ms, r.cloud_layer_ms or None)
        if k < n and r.payload_bytes > 0:
            self.link.observe(r.payload_bytes, r.transfer_ms, r.at_s)
            self.bytes_seen[k] = float(r.payload_bytes)
            if self.prior_bytes[k] > 0:
                key = k == 0
                self.byte_ratio[key] = 0.7 * self.byte_ratio[key] + 0.3 * r.payload_bytes / self.prior_bytes[k]
            self.codec_seen[k] = r.codec_ms
            sample = r.codec_ms / r.payload_bytes
            self.codec_ms_per_byte = sample if not self.codec_ms_per_byte else (
                0.8 * self.codec_ms_per_byte + 0.2 * sample)

    def ping(self, rtt_ms: float) -> None:
        """Feed a ping's round trip (ms) to the link estimate."""
        self.link.ping(rtt_ms)

    # --- prediction ---------------------------------------------------------------------------
    def payload_bytes(self) -> np.ndarray:
        """Expected payload bytes per split 0..n: measured where seen, else the prior scaled by observed ratios."""
        out = self.prior_bytes * self.byte_ratio[False]
        out[0] = self.prior_bytes[0] * self.byte_ratio[True]
        for k, b in self.bytes_seen.items():
            out[k] = b
        out[self.num_layers] = 0.0
        return out

    def predict(self) -> np.ndarray:
        """Predicted e2e ms of every split 0..n (nan where a needed estimate is missing)."""
        n = self.num_layers
        ks = np.arange(n + 1)
        edge = self.edge.cumulative() * self.edge.scale.value if self.edge.known else np.where(ks == 0, 0.0, np.nan)
        cloud = ((1 - self.cloud.cumulative()) * self.cloud.scale.value if self.cloud.known
                 else np.where(ks == n, 0.0, np.nan))
        payload = self.payload_bytes()
        codec = payload * self.codec_ms_per_byte
        for k, ms in self.codec_seen.items():
            codec[k] = ms
        if self.link.known:
            transfer = self.link.transfer_ms(payload)
        else:
            transfer = np.full(n + 1, np.nan)
        transfer[n] = codec[n] = 0.0
        cloud[n] = 0.0
        return edge + codec + transfer + cloud

    def choose(self) -> tuple[int, str]:
        """The split with the lowest predicted latency (the current one kept unless beaten by more than the
        hysteresis), and why; split 0, then n, while a side or the link is still unmeasured.
        """
        n = self.num_layers
        if not (self.edge.known and self.cloud.known and self.link.known):
            # the robot can always serve itself: measure the cloud and the link by probes meanwhile
            self.current = n
            return n, 'exploring: measuring the cloud and the link with probes, serving on the edge'
        pred = self.predict()
        usable = pred[self.splits]
        best = int(self.splits[int(np.nanargmin(usable))])
        cur = self.current
        if cur is not None and np.isfinite(pred[cur]) and \
                pred[cur] <= pred[best] + self._switch_margin(cur, best, pred):
            best = cur
        if best != cur or self._reason is None:
            self._reason = (f'predicted {pred[best]:.0f} ms at split {best} (edge-only {pred[n]:.0f}, cloud-only '
                            f'{pred[0]:.0f}); link {_fmt_rate(self.link.bandwidth.value)}, edge model '
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
        return self.budget.every(payload, self.cloud.predict(p, n), float(pred[cur]), self.link.bandwidth.value,
                                 max(doubt(float(pred[p] - pred[cur]), error), stale))

    def _plan_edge_probe(self, pred: np.ndarray) -> tuple[int, int]:
        """At cloud-only: the split to probe (the best that runs layers on the edge), and
        how often. The probe holds the edge for longer than the frame takes, so it runs
        seldom enough that the frames it delays cost at most ``probe_overhead`` (the period
        is a power of two, so it rarely changes).
        """
        k = int(min((k for k in self.space.splits if k > 0),
                    key=lambda k: pred[k] if np.isfinite(pred[k]) else np.inf))
        every = max(pred[k] - pred[0], 0.0) / (self.probe_overhead * max(pred[0], 1e-3))
        return k, int(min(2 ** max(1, math.ceil(math.log2(max(every, 1.0)))), 64))


class Neurosurgeon(Policy):
    """Neurosurgeon (Kang et al., ASPLOS 2017): per-layer latency profiles measured on
    each platform before serving, and the split that minimises the predicted total at
    the current bandwidth. The profiles are only as fresh as the last profiling run.
    The link is measured exactly as partnner measures it (frames, pings and the same
    shadow probes), so the two differ only in how they know compute costs.
    """

    name = 'neurosurgeon'

    def __init__(self, space: SplitSpace):
        super().__init__(space.num_layers)
        self.space = space
        self.link = LinkEstimator()
        self.pred_compute: np.ndarray | None = None
        self.split_bytes = space.prior_bytes()
        self.current: int | None = None

    def set_profile(self, edge_layer_ms, cloud_layer_ms, split_bytes, codec_ms) -> None:
        """The result of profiling both platforms: per-layer ms, and per split bytes and codec ms."""
        edge = np.concatenate([[0.0], np.cumsum(edge_layer_ms)])
        cloud = np.concatenate([[0.0], np.cumsum(cloud_layer_ms)])
        self.pred_compute = edge + (cloud[-1] - cloud) + np.asarray(codec_ms, dtype=float)
        self.split_bytes = np.asarray(split_bytes, dtype=float)

    def observe(self, r: FrameRecord) -> None:
        """Update the link estimate from a served frame that sent a payload."""
        if r.status == Status.OK and r.split < self.num_layers and r.payload_bytes > 0:
            self.link.observe(r.payload_bytes, r.transfer_ms, r.at_s)

    def ping(self, rtt_ms: float) -> None:
        """Feed a ping's round trip (ms) to the link estimate."""
        self.link.ping(rtt_ms)

    @property
    def probe_every(self) -> int:
        """Every other frame, like partnner away from cloud-only."""
        return 2

    def _predict(self, compute: np.ndarray) -> np.ndarray:
        pred = compute.copy()
        pred[:self.num_layers] += self.link.transfer_ms(self.split_bytes[:self.num_layers])
        return pred

    def choose(self):
        """The split minimising profiled compute plus predicted transfer; split n before a profile,
        0 while measuring the link.
        """
        n = self.num_layers
        if self.pred_compute is None:
            return n, 'neurosurgeon: no profile yet'
        if not self.link.known:
            self.current = 0
            return 0, 'neurosurgeon: measuring the link'
        pred = self._predict(self.pred_compute)
        self.current = int(min(self.space.splits, key=lambda s: pred[s]))
        return self.current, f'neurosurgeon: profiled prediction {pred[self.current]:.0f} ms'

    def probe_split(self) -> int | None:
        """The same link probes as partnner: the image, while at edge-only."""
        if self.pred_compute is None or not self.link.known or self.current != self.num_layers:
            return None
        return 0


class ANS(Policy):
    """Autodidactic Neurosurgeon (Zhang et al., WWW 2021): a discounted LinUCB bandit
    over splits, learning latency as a linear function of each split's features from
    end-to-end latency alone, with forced sampling to keep exploring. ``alpha`` is
    relative to the latency level, so one setting serves 30 ms and 3 s links alike.
    """

    name = 'ans'

    def __init__(self, space: SplitSpace, alpha: float = 0.5, gamma: float = 0.99, ridge: float = 1.0,
                 forced_every: int = 25):
        super().__init__(space.num_layers)
        self.space = space
        cum = np.concatenate([[0.0], np.cumsum(space.weights)]) / space.weights.sum()
        size = space.prior_bytes()
        size = size / max(size.max(), 1.0)
        ks = np.arange(space.num_layers + 1)
        self.features = np.stack([np.ones_like(cum), cum, 1 - cum, size, (ks == space.num_layers) * 1.0], axis=1)
        self.arms = np.array(space.splits)
        self.alpha, self.gamma, self.ridge = alpha, gamma, ridge
        d = self.features.shape[1]
        self.A = ridge * np.eye(d)
        self.b = np.zeros(d)
        self.forced_every = forced_every
        self.frames = 0
        self.force_next = False
        self.latency_scale = 1.0  # s; confidence widths are relative to the latencies seen

    def observe(self, r: FrameRecord) -> None:
        """Update the bandit with a served, non-probe frame's end-to-end latency (discounting older ones)."""
        if r.probe or r.status != Status.OK:
            return
        self.latency_scale = r.e2e_ms / 1e3 if not self.frames else 0.9 * self.latency_scale + 0.1 * r.e2e_ms / 1e3
        self.frames += 1
        self.force_next = self.frames % self.forced_every == 0
        x = self.features[r.split]
        d = len(x)
        self.A = self.gamma * self.A + np.outer(x, x) + (1 - self.gamma) * self.ridge * np.eye(d)
        self.b = self.gamma * self.b + x * (r.e2e_ms / 1e3)

    def choose(self):
        """The split with the lowest confidence bound on latency, or a forced exploratory sample."""
        A_inv = np.linalg.inv(self.A)
        X = self.features[self.arms]
        width = np.sqrt(np.einsum('ij,jk,ik->i', X, A_inv, X))
        mean = X @ (A_inv @ self.b)
        score = mean - self.alpha * width * self.latency_scale
        if self.force_next:
            # forced sample: the least certain of the arms that could plausibly be best
            plausible = score <= 2 * max(score.min(), 1e-3)
            k = int(self.arms[int(np.argmax(np.where(plausible, width, -1.0)))])
            return k, 'ans: forced sample'

        k = int(self.arms[int(np.argmin(score))])
        return k, f'ans: lower confidence bound {score.min() * 1e3:.0f} ms'


STATIC = ('fixed', 'edge_only', 'cloud_only')
ADAPTIVE = ('partnner', 'neurosurgeon', 'ans')
POLICIES = ('partnner',) + STATIC + ('neurosurgeon', 'ans')


def make_policy(name: str, num_layers: int, split: int = 0, space: SplitSpace | None = None,
                probe_share: float = 0.05) -> Policy:
    """A new policy by name (``probe_share``: partnner's probe budget); raises ValueError for an unknown name
    or an adaptive one without ``space``.
    """
    if name == 'fixed':
        policy = Fixed(num_layers, 0)
        policy.set_split(split)
        return policy
    if name == 'edge_only':
        return EdgeOnly(num_layers)
    if name == 'cloud_only':
        return CloudOnly(num_layers)
    if name in ADAPTIVE:
        if space is None:
            raise ValueError(f'policy {name} needs the split space of the model')
        if name == 'partnner':
            return Partnner(space, probe_share=probe_share)
        return {'neurosurgeon': Neurosurgeon, 'ans': ANS}[name](space)
    raise ValueError(f'unknown policy {name!r}; known: {", ".join(POLICIES)}')
