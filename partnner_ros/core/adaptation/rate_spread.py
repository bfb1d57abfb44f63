"""What the next transfer will cost on a link that may be bursty: the distribution
of seconds per bit (1/B) over recent transfers.

A transfer of b bits costs b x E[1/B]. On a bursty link that is more than b over
the typical rate, since a slow moment costs more than a fast one saves. Two
memories are kept: the current regime (the samples since the bandwidth tracker
last stepped) and a long window across regimes.

- When the current regime has predicted the transfers clearly better than the
  long window (its running squared log error is ``clear_gain`` times smaller), the
  link has regimes that last: the next transfer costs the regime's E[1/B], plus the
  risk that the regime ends while the transfer is under way (the chance that it
  ends within the transfer's duration, from how long regimes have lasted, times
  what the other regimes cost). A link that steps 10x is followed within a few
  frames, and a bursty one with short regimes keeps the risk in the price.
- Otherwise, as on a link whose bursts are independent, where a good moment says
  nothing about the next, the long window's E[1/B] is the prediction.

Each memory's samples are clipped at ``clip`` times its median, so a lone outlier
moves E[1/B] by a bounded amount. The estimate's standard error is the spread
of its samples over their square root, the spread shrunk toward a prior
coefficient of variation of ``prior_cv`` while the samples are few: a link
measured a few times is in doubt.
"""

import math
from collections import deque

import numpy as np


class RateSpread:
    """Recent 1/B samples with their times; predicts E[1/B] and its spread for a transfer of given size."""

    novelty = 2.0  # a regime this far beyond everything the long window holds is a new link

    def __init__(self, long_window: int = 48, clip: float = 10.0, error_rate: float = 0.3, clear_gain: float = 4.0,
                 prior_dwell_s: float = 10.0, prior_cv: float = 1.0, prior_samples: float = 4.0):
        self.long: deque[tuple[float, float]] = deque(maxlen=long_window)  # (s per bit, time s)
        self.regime: deque[float] = deque(maxlen=long_window)
        self.step_times: deque[float] = deque(maxlen=long_window)
        self.errors = [0.0, 0.0]  # running mean squared log error of the regime's and the long window's
        self.clip, self.error_rate, self.clear_gain = clip, error_rate, clear_gain
        self.prior_dwell_s, self.prior_cv, self.prior_samples = prior_dwell_s, prior_cv, prior_samples
        self._clock = 0.0

    def add(self, seconds_per_bit: float, stepped: bool, at_s: float | None = None) -> None:
        """One transfer's 1/B, ended at ``at_s`` (None: a second after the last); ``stepped``: the
        bandwidth tracker declared a new regime with it.
        """
        self._clock = self._clock + 1.0 if at_s is None or not math.isfinite(at_s) else at_s
        if self.long:
            for i, mean in enumerate((_mean(self.regime, self.clip), self.long_mean())):
                self.errors[i] += self.error_rate * (math.log(seconds_per_bit / mean) ** 2 - self.errors[i])
        if stepped:
            last = self.regime[-1] if self.regime else seconds_per_bit
            self.regime = deque([last, seconds_per_bit], maxlen=self.regime.maxlen)
            self.step_times.append(self._clock)
            # the old regime's errors say nothing of the new one's: it starts halfway to being trusted
            self.errors[0] = self.errors[1] / 2
            if self._novel():
                self.long = deque([(last, self._clock)], maxlen=self.long.maxlen)
                self.step_times.clear()
                self.errors = [0.0, 0.0]
        else:
            self.regime.append(seconds_per_bit)
        self.long.append((seconds_per_bit, self._clock))

    def _novel(self) -> bool:
        values = [v for v, _ in self.long]
        lo, hi = min(values), max(values)
        return all(x > hi * self.novelty for x in self.regime) or all(x < lo / self.novelty for x in self.regime)

    def samples(self) -> int:
        """How many transfers the long window holds."""
        return len(self.long)

    def long_mean(self) -> float:
        """E[1/B] over the long window (nan before any sample)."""
        return _mean([v for v, _ in self.long], self.clip)

    def cv(self) -> float:
        """Coefficient of variation of 1/B over the long window (nan before any sample)."""
        values = _clipped([v for v, _ in self.long], self.clip)
        return float(values.std() / values.mean()) if len(values) else float('nan')

    @property
    def regimes_last(self) -> bool:
        """Whether the current regime has predicted clearly better than the long window (or nothing is
        known yet, so a fresh estimator follows its first samples).
        """
        short, long = self.errors
        return short * self.clear_gain <= long

    def dwell_s(self) -> float:
        """How long a regime has lasted, on average, over the long window (with a prior regime)."""
        if not self.long:
            return self.prior_dwell_s
        start = self.long[0][1]
        steps = sum(t >= start for t in self.step_times)
        return (self._clock - start + self.prior_dwell_s) / (steps + 1)

    def predict(self, bits, fixed_s: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """E[1/B] for a transfer of each size in ``bits``, and the standard error of that estimate (the
        spread of its samples, shrunk toward ``prior_cv`` while they are few, over their square root).
        """
        bits = np.asarray(bits, dtype=float)
        if not self.long:
            return np.full(bits.shape, np.nan), np.full(bits.shape, np.nan)
        long = _clipped([v for v, _ in self.long], self.clip)
        if not self.regimes_last:
            return np.full(bits.shape, long.mean()), np.full(bits.shape, self._error(long))
        regime = _clipped(self.regime, self.clip)
        if len(self.regime) >= len(self.long):
            return np.full(bits.shape, regime.mean()), np.full(bits.shape, self._error(regime))
        others = _clipped([v for v, _ in list(self.long)[:-len(self.regime)]], self.clip)
        ends = 1.0 - np.exp(-(fixed_s + bits * regime.mean()) / self.dwell_s())
        mean = (1 - ends) * regime.mean() + ends * others.mean()
        error = np.hypot((1 - ends) * self._error(regime), ends * self._error(others))
        return mean, error

    def _error(self, x: np.ndarray) -> float:
        n, n0 = len(x), self.prior_samples
        var = (n * x.var() + n0 * (self.prior_cv * x.mean()) ** 2) / (n + n0)
        return float(np.sqrt(var / n))


def _clipped(samples, clip: float) -> np.ndarray:
    x = np.asarray(samples, dtype=float)
    return np.minimum(x, clip * np.median(x)) if len(x) else x


def _mean(samples, clip: float) -> float:
    x = _clipped(samples, clip)
    return float(x.mean()) if len(x) else float('nan')
