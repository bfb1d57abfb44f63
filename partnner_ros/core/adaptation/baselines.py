"""The adaptive baselines partnner is measured against: Neurosurgeon (profiles made in
advance) and the Autodidactic Neurosurgeon (a bandit on end-to-end latency).
"""

import numpy as np

from .estimators import LinkEstimator
from .frames import FrameRecord, Status
from .policy import Policy
from .split_space import SplitSpace


class Neurosurgeon(Policy):
    """Neurosurgeon (Kang et al., ASPLOS 2017): per-layer latency profiles measured on
    each platform before serving, and the split that minimises the predicted total at
    the current bandwidth. The profiles are only as fresh as the last profiling run.
    The link is estimated as partnner estimates it (frames and pings); its shadow
    probes send the image every other frame at edge-only, without a budget, since
    the original measures bandwidth continuously.
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
            self.link.observe(r.payload_bytes, r.transfer_ms, r.at_s, r.e2e_ms if r.probe else None)

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
