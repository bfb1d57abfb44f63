"""Online estimators fed only by what the running system measures per frame.

:class:`StepTracker` follows one positive quantity (ms per unit of compute, bit/s,
ms of round trip): the median of a short window (robust to outliers), with a
two-sided CUSUM on the log ratio that declares a step when deviations persist, and
then restarts from the samples after the step, so a 10x change is followed within
two or three samples while a lone outlier moves nothing.

:class:`ShapeProfile` learns how a side's (edge or cloud) time spreads over the
layers: it starts from the model's relative compute weights and is refined by the
per-layer durations of whatever layers that side actually ran.

:class:`LinkEstimator` combines a bandwidth tracker with a round-trip tracker and
a :class:`~.rate_spread.RateSpread`, the recent distribution of transfer rates: a
transfer is predicted as rtt + 8 * bytes * E[1/B], which on a bursty link is
larger than 8 * bytes / (typical B), since a slow moment costs more than a fast
one saves.
"""

import math
from collections import deque

import numpy as np

from .rate_spread import RateSpread
from .stats import RollingStats


class StepTracker:
    """Robust running estimate of a positive quantity with step detection.

    ``drift`` is the log-deviation tolerated as noise. A step is declared when the
    CUSUM of larger deviations exceeds ``threshold`` and the last two samples both
    deviate the same way; the estimate then restarts from those two samples.
    """

    def __init__(self, window: int = 9, drift: float = math.log(1.15), threshold: float = math.log(1.8)):
        self.window: deque[float] = deque(maxlen=window)
        self.drift = drift
        self.threshold = threshold
        self._up = 0.0
        self._down = 0.0
        self._recent: deque[tuple[float, float]] = deque(maxlen=2)  # (sample, log deviation)
        self.steps = 0

    @property
    def known(self) -> bool:
        """True once a sample has been accepted."""
        return bool(self.window)

    @property
    def value(self) -> float:
        """The median of the current window, or nan before any sample."""
        return float(np.median(self.window)) if self.window else float('nan')

    def update(self, sample: float) -> bool:
        """Add a sample; True when it completes a step (the estimate jumped)."""
        if not (sample > 0 and math.isfinite(sample)):
            return False
        if not self.window:
            self.window.append(sample)
            return False
        r = math.log(sample / self.value)
        self._up = max(0.0, self._up + r - self.drift)
        self._down = max(0.0, self._down - r - self.drift)
        self._recent.append((sample, r))
        devs = [d for _, d in self._recent]
        persistent = len(devs) == 2 and (min(devs) > self.drift or max(devs) < -self.drift)
        if persistent and max(self._up, self._down) > self.threshold:
            self.window.clear()
            self.window.extend(v for v, _ in self._recent)
            self._recent.clear()
            self._up = self._down = 0.0
            self.steps += 1
            return True
        self.window.append(sample)
        return False


class ShapeProfile:
    """Relative per-layer cost of one side, and its current scale (ms for the whole model).

    ``predict(a, b)`` is the ms for layers ``[a, b)`` on this side now.
    """

    def __init__(self, weights, rate: float = 0.5):
        w = np.asarray(weights, dtype=float)
        w = np.where(w > 0, w, 1.0)
        self.share = w / w.sum()
        self.rate = rate
        self.scale = StepTracker()

    @property
    def known(self) -> bool:
        """True once the scale has a first measurement (predict() is nan before)."""
        return self.scale.known

    def cumulative(self) -> np.ndarray:
        """Share of the whole model in layers ``[0, k)``, for k = 0..n."""
        return np.concatenate([[0.0], np.cumsum(self.share)])

    def predict(self, a: int, b: int) -> float:
        """Predicted ms of layers ``[a, b)`` on this side now (0 for an empty range)."""
        return float(self.share[a:b].sum() * self.scale.value) if b > a else 0.0

    def observe(self, a: int, b: int, total_ms: float, layer_ms=None) -> bool:
        """The side ran layers ``[a, b)`` in ``total_ms`` (and per layer, if measured).

        Returns True when the scale stepped (the side became faster or slower).
        """
        if b <= a or not total_ms > 0:
            return False
        seg = self.share[a:b]
        if layer_ms is not None and len(layer_ms) == b - a:
            m = np.clip(np.asarray(layer_ms, dtype=float), 1e-6, None)
            if a == 0 and b == len(self.share):
                target = m / m.sum()
            else:
                target = m / m.sum() * seg.sum()
            self.share[a:b] = (1 - self.rate) * seg + self.rate * target
            self.share /= self.share.sum()
            seg = self.share[a:b]
        return self.scale.update(total_ms / seg.sum())


class LinkEstimator:
    """Bandwidth (bit/s) and the fixed cost of a round trip (ms) from transfers and pings.

    transfer = fixed + 8 * payload / bandwidth. ``fixed`` is the round trip plus the
    answer's way back; it is learned from frames whose payload is small for the
    link (and from pings, until such frames exist), and bandwidth from frames whose
    payload dominates their transfer, so a tiny payload (a classifier's last
    layers) cannot make a fast link look slow.
    """

    LARGE = 0.5  # a payload is large when it takes at least this share of its transfer

    def __init__(self):
        self.bandwidth = StepTracker()
        self.spread = RateSpread()
        self.fixed = StepTracker(window=15)
        self.rtt = RollingStats(15)

    @property
    def known(self) -> bool:
        """True once a frame has measured the bandwidth."""
        return self.bandwidth.known

    def fixed_ms(self) -> float:
        """The fixed part of a transfer in ms: learned from small payloads, else the ping rtt, else 0."""
        if self.fixed.known:
            return self.fixed.value
        return self.rtt.low if len(self.rtt) else 0.0

    def ping(self, rtt_ms: float) -> None:
        """Record a ping's round trip in ms (floored at 0.05 ms). The fixed part is the low end of recent
        round trips: a ping that met a queue or an outage waited for it, which says nothing of the wire's floor.
        """
        self.rtt.add(max(rtt_ms, 0.05))

    def observe(self, payload_bytes: int, transfer_ms: float, at_s: float | None = None,
                probe_latency_ms: float | None = None) -> bool:
        """One frame's payload took ``transfer_ms`` both ways (request and answer), ending at ``at_s``
        (seconds on the robot's clock; None: one second after the last); ``probe_latency_ms``: it was a
        shadow probe, whose frame would have taken that long. Returns True when the bandwidth stepped.
        """
        if payload_bytes <= 0 or not transfer_ms > 0:
            return False
        bits = 8.0 * payload_bytes
        fixed = self.fixed_ms()
        if self.bandwidth.known:
            wire = bits / self.bandwidth.value * 1e3
            if wire < self.LARGE * (fixed + wire) and transfer_ms < 2 * (fixed + wire):
                # a small payload that behaved as expected: it measures the fixed part, and
                # says the link still runs at the typical rate
                self.fixed.update(max(transfer_ms - wire, 0.05))
                self.spread.add(1.0 / self.bandwidth.value, False, at_s, probe_latency_ms)
                return False
        wire_ms = max(transfer_ms - fixed, 0.05 * transfer_ms, 0.01)
        stepped = self.bandwidth.update(bits / (wire_ms / 1e3))
        self.spread.add(wire_ms / 1e3 / bits, stepped, at_s, probe_latency_ms)
        return stepped

    def advance(self, at_s: float) -> None:
        """The robot's clock reached ``at_s`` (s): what the link's last transfers said grows older."""
        self.spread.advance(at_s)

    @property
    def budget_bps(self) -> float:
        """The rate a probe sent now is priced at against the probe budget (bit/s; nan before ``known``)."""
        return self.spread.budget_rate()

    @property
    def cv(self) -> float:
        """Coefficient of variation of 1/B over the long window: 0 on a steady link, 1 and more on a bursty
        one (nan before ``known``).
        """
        return self.spread.cv()

    def transfer_ms(self, payload_bytes) -> np.ndarray:
        """Predicted ms to transfer each payload (bytes, array-friendly): fixed + bits x E[1/B]; nan before
        ``known``.
        """
        fixed = self.fixed_ms()
        bits = 8.0 * np.asarray(payload_bytes, dtype=float)
        return fixed + bits * self.spread.predict(bits, fixed / 1e3)[0] * 1e3

    def transfer_error_ms(self, payload_bytes) -> np.ndarray:
        """Standard error of the predicted transfer time of each payload (the estimate of E[1/B]'s)."""
        bits = 8.0 * np.asarray(payload_bytes, dtype=float)
        return bits * self.spread.predict(bits, self.fixed_ms() / 1e3)[1] * 1e3
