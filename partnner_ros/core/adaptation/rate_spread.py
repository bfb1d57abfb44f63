"""What the next transfer will cost on a link that may be bursty: the distribution
of seconds per bit (1/B) over recent transfers.

A transfer of b bits costs b x E[1/B]. On a bursty link that is more than b over
the typical rate, since a slow moment costs more than a fast one saves. Two
memories are kept: the current regime (the samples since the bandwidth tracker
last stepped) and a long window across regimes. The long window holds 200
transfers: a frame a link's outage holds for seconds is rare, and in a window of
a few seconds of frames one such frame would set the price for as long as it
stayed there.

- When the current regime has predicted the transfers clearly better than the
  long window (its running squared log error is ``clear_gain`` times smaller), the
  link has regimes that last: the next transfer costs the regime's E[1/B], plus the
  risk that the regime ends while the transfer is under way (the chance that it
  ends within the transfer's duration, from how long regimes have lasted, times
  what the other regimes cost). A link that steps 10x is followed within a few
  frames, and a bursty one with short regimes keeps the risk in the price. The
  regime's samples also age: while no transfer measures the link (a robot serving
  itself probes it every few seconds at most), the chance that the regime has
  ended grows with the time since the last sample, ``age_weight`` times as fast
  as over a transfer. Counting regimes needs dense samples: where they are sparse
  most changes go unseen and ``dwell_s`` is too long, so an old regime would be
  trusted long after it ended (on generated bursty links, 3 did better than 1,
  and 10 no better than 3).
- Otherwise, as on a link whose bursts are independent, where a good moment says
  nothing about the next, the long window's E[1/B] is the prediction.

The price is per frame, as latency is counted: frames follow each other, so a slow
moment holds fewer frames than a fast one of the same length. A served frame's own
transfer is such a per-frame sample; a shadow probe samples a moment at random, so
its weight is inversely proportional to the latency a frame sent then would have
had. Each memory's samples are clipped at ``clip`` times its median or its
second-slowest sample, whichever is larger: a lone outlier moves E[1/B] by a bounded
amount, while outages that recur (an on-off link) are priced in full. The estimate's
standard error is the spread of its samples over their square root, the spread
shrunk toward a prior coefficient of variation of ``prior_cv`` while the samples
are few: a link measured a few times is in doubt.
"""

import math
from collections import deque
from dataclasses import dataclass

import numpy as np


class RateSpread:
    """Recent 1/B samples with their times; predicts E[1/B] and its spread for a transfer of given size."""

    novelty = 2.0  # a regime this far beyond everything the long window holds is a new link
    age_weight = 3.0  # how much faster a regime is taken to end while unmeasured than during a transfer
    budget_window = 48  # the latest transfers a probe's price is taken from (see budget_rate)

    def __init__(self, long_window: int = 200, clip: float = 10.0, error_rate: float = 0.3, clear_gain: float = 4.0,
                 prior_dwell_s: float = 10.0, prior_cv: float = 1.0, prior_samples: float = 4.0):
        self.long: deque[Sample] = deque(maxlen=long_window)
        self.regime: deque[Sample] = deque(maxlen=long_window)
        self.step_times: deque[float] = deque(maxlen=long_window)
        self.errors = [0.0, 0.0]  # running mean squared log error of the regime's and the long window's
        self.clip, self.error_rate, self.clear_gain = clip, error_rate, clear_gain
        self.prior_dwell_s, self.prior_cv, self.prior_samples = prior_dwell_s, prior_cv, prior_samples
        self._clock = 0.0  # when the last sample ended
        self._now = 0.0  # the latest time the robot's frames have reached (see advance)
        self._stats: dict[str, tuple[float, float, float]] = {}  # moments per memory until the next sample

    def add(self, seconds_per_bit: float, stepped: bool, at_s: float | None = None,
            probe_latency_ms: float | None = None) -> None:
        """One transfer's 1/B, ended at ``at_s`` (None: a second after the last); ``stepped``: the
        bandwidth tracker declared a new regime with it; ``probe_latency_ms``: it came from a shadow
        probe whose frame would have taken that long (None: from a served frame).
        """
        self._clock = self._clock + 1.0 if at_s is None or not math.isfinite(at_s) else at_s
        self.advance(self._clock)
        sample = Sample(seconds_per_bit, self._clock, probe_latency_ms)
        if self.long:
            for i, memory in enumerate(('regime', 'long')):
                error = math.log(seconds_per_bit / self._memory_moments(memory)[0]) ** 2
                self.errors[i] += self.error_rate * (error - self.errors[i])
        if stepped:
            last = self.regime[-1] if self.regime else sample
            self.regime = deque([last, sample], maxlen=self.regime.maxlen)
            self.step_times.append(self._clock)
            # the old regime's errors say nothing of the new one's: it starts halfway to being trusted
            self.errors[0] = self.errors[1] / 2
            if self._novel():
                self.long = deque([last], maxlen=self.long.maxlen)
                self.step_times.clear()
                self.errors = [0.0, 0.0]
        else:
            self.regime.append(sample)
        self.long.append(sample)
        self._stats.clear()

    def advance(self, at_s: float) -> None:
        """The robot's clock reached ``at_s`` (a frame's outcome, with or without a transfer): the current
        regime's samples are that much older (a non-finite time is ignored).
        """
        if math.isfinite(at_s):
            self._now = max(self._now, at_s)

    def _novel(self) -> bool:
        values = [x.value for x in self.long]
        lo, hi = min(values), max(values)
        return (all(x.value > hi * self.novelty for x in self.regime)
                or all(x.value < lo / self.novelty for x in self.regime))

    def samples(self) -> int:
        """How many transfers the long window holds."""
        return len(self.long)

    def budget_rate(self) -> float:
        """The rate (bit/s) a probe sent now is priced at: the latest transfer's, so that a link found fast
        again is probed again soon, but no more than the mean rate of the long window, so that a burst
        does not pass for the link's capacity, and no less than its harmonic rate (what it carried over
        the time its transfers took), so that one transfer caught in an outage does not stop the probes
        that would see the link come back (nan before any sample). Only the latest ``budget_window``
        transfers count: the budget is a share of what the link carries now, and the long window can
        reach back minutes (a link whose rate drifted down was probed over budget at its older rates).
        """
        if not self.long:
            return float('nan')
        values = np.array([x.value for x in list(self.long)[-self.budget_window:]])
        mean, harmonic = float(np.mean(1.0 / values)), 1.0 / float(np.mean(values))
        return min(max(1.0 / float(values[-1]), harmonic), mean)

    def cv(self) -> float:
        """Coefficient of variation of 1/B per frame over the long window (nan before any sample)."""
        mean, var, _ = self._memory_moments('long')
        return math.sqrt(var) / mean if self.long else float('nan')

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
        start = self.long[0].at_s
        steps = sum(t >= start for t in self.step_times)
        return (self._clock - start + self.prior_dwell_s) / (steps + 1)

    def predict(self, bits, fixed_s: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """E[1/B] per frame for a transfer of each size in ``bits`` started now, and the standard error of that
        estimate (the spread of its samples, shrunk toward ``prior_cv`` while they are few, over the
        square root of their effective number).
        """
        bits = np.asarray(bits, dtype=float)
        if not self.long:
            return np.full(bits.shape, np.nan), np.full(bits.shape, np.nan)
        if not self.regimes_last or len(self.regime) >= len(self.long):
            mean, var, n = self._memory_moments('regime' if self.regimes_last else 'long')
            return np.full(bits.shape, mean), np.full(bits.shape, self._error(mean, var, n))
        m_r, v_r, n_r = self._memory_moments('regime')
        m_o, v_o, n_o = self._memory_moments('others')
        age = self.age_weight * (self._now - self._clock)
        ends = 1.0 - np.exp(-(age + fixed_s + bits * m_r) / self.dwell_s())
        mean = (1 - ends) * m_r + ends * m_o
        error = np.hypot((1 - ends) * self._error(m_r, v_r, n_r), ends * self._error(m_o, v_o, n_o))
        return mean, error

    def _memory_moments(self, memory: str) -> tuple[float, float, float]:
        """``_moments`` of the current regime, the long window, or the long window's samples before the
        regime ('others'), computed once per sample: a decision asks for them once per codec.
        """
        if memory not in self._stats:
            samples = {'regime': self.regime, 'long': self.long,
                       'others': list(self.long)[:len(self.long) - len(self.regime)]}[memory]
            self._stats[memory] = _moments(samples, self.clip)
        return self._stats[memory]

    def _error(self, mean: float, var: float, n: float) -> float:
        n0 = self.prior_samples
        return math.sqrt((n * var + n0 * (self.prior_cv * mean) ** 2) / (n + n0) / n)


@dataclass(frozen=True)
class Sample:
    """One transfer's seconds per bit, when it ended, and (for a shadow probe) the latency its frame
    would have had.
    """

    value: float
    at_s: float
    probe_latency_ms: float | None = None


def _moments(samples, clip: float) -> tuple[float, float, float]:
    """Per-frame weighted mean and variance of the clipped values, and their effective number. A served
    frame's sample weighs as a frame of the median latency among the probes (1 if there are none); a
    probe's, inversely to its latency.
    """
    samples = list(samples)
    if not samples:
        return float('nan'), float('nan'), 0.0
    x = np.array([s.value for s in samples])
    if len(x) > 1:
        x = np.minimum(x, clip * max(float(np.median(x)), float(np.partition(x, -2)[-2])))
    probe_ms = [s.probe_latency_ms for s in samples if s.probe_latency_ms]
    typical = float(np.median(probe_ms)) if probe_ms else 1.0
    w = np.array([1.0 / (s.probe_latency_ms or typical) for s in samples])
    mean = float(np.average(x, weights=w))
    var = float(np.average((x - mean) ** 2, weights=w))
    return mean, var, float(w.sum() ** 2 / (w ** 2).sum())
