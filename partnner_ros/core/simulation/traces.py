"""Bandwidth traces and step schedules for the simulator (and the testbed).

A trace is piecewise constant: sample i holds from its time to the next sample's
time (the last one for the median sample interval), and the trace repeats when a
run outlasts it. Files are plain text, ``<seconds> <Mbit/s>`` per line, as in
../shared/traces (3G/HSDPA, FCC broadband, Oboe).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FAMILIES = {'hsdpa': '3G/HSDPA', 'fcc': 'FCC broadband', 'oboe': 'LTE/Wi-Fi (Oboe)'}


class Trace:
    """A piecewise-constant bandwidth trace that repeats; rates in bit/s, times in s.
    Raises ValueError for mismatched, empty, non-increasing, negative or all-zero input.
    """

    def __init__(self, times, mbps, name: str = 'trace'):
        times = np.asarray(times, dtype=float)
        rates = np.asarray(mbps, dtype=float) * 1e6
        if times.ndim != 1 or len(times) != len(rates) or len(times) == 0:
            raise ValueError(f'{name}: a trace needs matching, non-empty time and rate columns')
        if np.any(np.diff(times) <= 0):
            raise ValueError(f'{name}: sample times must increase')
        if np.any(rates < 0) or not np.isfinite(rates).all():
            raise ValueError(f'{name}: rates must be finite and >= 0')
        self.name = name
        self.start = times - times[0]
        step = float(np.median(np.diff(self.start))) if len(times) > 1 else 1.0
        self.end = np.append(self.start[1:], self.start[-1] + step)
        self.rate = rates
        self.period = float(self.end[-1])
        self.cum = np.concatenate([[0.0], np.cumsum(self.rate * (self.end - self.start))])
        self.bits_per_period = float(self.cum[-1])
        if self.bits_per_period <= 0:
            raise ValueError(f'{name}: the trace never carries any data')

    @classmethod
    def load(cls, path) -> 'Trace':
        """Read a ``<seconds> <Mbit/s>`` text file; raises ValueError when it is not one."""
        path = Path(path)
        try:
            data = np.loadtxt(path, ndmin=2)
        except ValueError as e:
            raise ValueError(f'{path}: not a "<seconds> <Mbit/s>" trace ({e})') from None
        if data.shape[1] < 2:
            raise ValueError(f'{path}: expected two columns, seconds and Mbit/s')
        return cls(data[:, 0], data[:, 1], path.stem)

    @classmethod
    def steps(cls, levels_mbps, seconds_each: float, name: str = 'steps') -> 'Trace':
        """Constant rates, one after the other, each for ``seconds_each``."""
        return cls(np.arange(len(levels_mbps)) * seconds_each, levels_mbps, name)

    @classmethod
    def ramp(cls, lo_mbps: float, hi_mbps: float, seconds: float, points: int = 60, name: str = 'ramp'):
        """``points`` equal steps from ``lo_mbps`` to ``hi_mbps`` (Mbit/s) over ``seconds``."""
        t = np.linspace(0, seconds, points, endpoint=False)
        return cls(t, np.linspace(lo_mbps, hi_mbps, points), name)

    @property
    def mean_mbps(self) -> float:
        """Mean rate over one period, in Mbit/s."""
        return self.bits_per_period / self.period / 1e6

    def rate_at(self, t):
        """The rate in bit/s at time(s) ``t`` s (wrapping around the period; array-friendly)."""
        rate = self.rate[np.searchsorted(self.start, np.asarray(t, dtype=float) % self.period, 'right') - 1]
        return float(rate) if np.ndim(rate) == 0 else rate

    def bits_until(self, t):
        """Bits the link could carry from time 0 to ``t`` (array-friendly)."""
        t = np.asarray(t, dtype=float)
        periods = np.floor(t / self.period)
        local = t - periods * self.period
        i = np.clip(np.searchsorted(self.start, local, 'right') - 1, 0, len(self.start) - 1)
        return periods * self.bits_per_period + self.cum[i] + self.rate[i] * (local - self.start[i])

    def finish(self, t0, bits):
        """When a transfer of ``bits`` started at ``t0`` completes (array-friendly)."""
        target = self.bits_until(t0) + np.asarray(bits, dtype=float)
        periods = np.floor(target / self.bits_per_period)
        rem = target - periods * self.bits_per_period
        i = np.clip(np.searchsorted(self.cum, rem, 'right') - 1, 0, len(self.rate) - 1)
        rate = np.where(self.rate[i] > 0, self.rate[i], np.inf)
        return periods * self.period + self.start[i] + (rem - self.cum[i]) / rate

    def change_points(self, window_s: float = 5.0, factor: float = 2.0, duration: float | None = None):
        """Times where the mean rate over the next ``window_s`` differs from the previous
        window's by ``factor`` or more (the strongest point of each such change): the
        trace's step changes.
        """
        duration = duration or self.period
        grid = np.arange(window_s, duration - window_s, window_s / 10)
        if len(grid) == 0:
            return []
        before = (self.bits_until(grid) - self.bits_until(grid - window_s)) / window_s
        after = (self.bits_until(grid + window_s) - self.bits_until(grid)) / window_s
        ratio = np.maximum(before, after) / np.maximum(np.minimum(before, after), 1.0)
        times: list[float] = []
        for i in np.argsort(-ratio):
            if ratio[i] < factor:
                break
            if all(abs(grid[i] - t) >= window_s for t in times):
                times.append(float(grid[i]))
        return sorted(times)


@dataclass
class Steps:
    """A piecewise-constant factor over time, e.g. cloud load: [(0, 1.0), (30, 3.0)]."""

    points: tuple = ((0.0, 1.0),)

    def __post_init__(self):
        self._times = np.array([t for t, _ in self.points], dtype=float)
        self._factors = np.array([f for _, f in self.points], dtype=float)

    def at(self, t):
        """The factor at time(s) ``t`` (array-friendly)."""
        i = np.clip(np.searchsorted(self._times, t, 'right') - 1, 0, len(self._factors) - 1)
        return self._factors[i]

    @property
    def change_times(self) -> list[float]:
        """Times (s) where the factor changes, i.e. every point after the first."""
        return [t for t, _ in self.points[1:]]

    @classmethod
    def parse(cls, text: str) -> 'Steps':
        """``"0:1,30:3,60:1"``: factor 1 from 0 s, 3 from 30 s, 1 from 60 s."""
        if not text:
            return cls()
        try:
            points = tuple(sorted((float(a), float(b)) for a, b in (p.split(':') for p in text.split(','))))
        except ValueError:
            raise ValueError(f'a schedule is "seconds:factor,...", got {text!r}') from None
        if points[0][0] > 0:
            points = ((0.0, 1.0),) + points
        if any(f <= 0 for _, f in points):
            raise ValueError(f'schedule factors must be positive: {text!r}')
        return cls(points)


def load_traces(path) -> list[Trace]:
    """A trace file, every trace file in a folder (sorted), or one synthetic or generated trace spec."""
    if str(path).startswith(SPEC_PREFIXES):
        return [trace_from_spec(str(path))]
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in ('.txt', '.log', ''))
        if not files:
            raise ValueError(f'no trace files in {path}')
        return [Trace.load(p) for p in files]
    if not path.exists():
        raise ValueError(f'no trace file or folder {path}')
    return [Trace.load(path)]


SPEC_PREFIXES = ('steps:', 'ramp:', 'gen:')


def trace_from_spec(spec: str) -> Trace:
    """A trace file, or a synthetic one: ``steps:20,2,20@30`` (Mbit/s levels, 30 s each),
    ``ramp:20,2@60`` (from 20 to 2 Mbit/s over 60 s) or a generated bursty link,
    ``gen:lognormal,cv=1.0,mean=2,seed=3`` (see :mod:`.generated`).
    """
    if spec.startswith('gen:'):
        from .generated import from_spec  # generated builds on Trace
        return from_spec(spec)
    kind, _, rest = spec.partition(':')
    if kind in ('steps', 'ramp') and rest:
        try:
            levels, _, seconds_text = rest.partition('@')
            values = [float(v) for v in levels.split(',')]
            seconds = float(seconds_text)
            if kind == 'steps':
                return Trace.steps(values, seconds, name=spec)
            (lo, hi), = [values]
            return Trace.ramp(lo, hi, seconds, name=spec)
        except ValueError:
            raise ValueError(f'a synthetic trace is steps:MBPS,MBPS,...@SECONDS_EACH or '
                             f'ramp:FROM,TO@SECONDS, got {spec!r}') from None
    if not Path(spec).is_file():
        raise ValueError(f'no trace file {spec} (a synthetic trace is steps:..., ramp:... or gen:...)')
    return Trace.load(spec)


def family_of(path) -> str:
    """The link family a trace path belongs to (its folder name), for reports."""
    for part in reversed(Path(path).parts):
        if part in FAMILIES:
            return part
    return Path(path).parent.name or 'custom'
