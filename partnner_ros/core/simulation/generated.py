"""Generated link families: bursty bandwidth with a chosen mean and coefficient of
variation (CV), seeded, to test adaptation on links no policy was tuned on.

- ``lognormal``: an independent log-normal rate every step (100 ms).
- ``markov``: a two-state Markov-modulated link (good and bad states, about a
  second in each), with a little log-normal jitter per step.
- ``onoff``: an on-off link whose off periods are outages (no data at all).

Each kind's parameters are solved so the stationary mean and CV are the ones asked
for. A spec string names one trace: ``gen:lognormal,cv=1.0,mean=2,seed=3`` (and
optionally ``seconds=120``, ``step=0.1``).
"""

import math

import numpy as np

from .traces import Trace

KINDS = ('lognormal', 'markov', 'onoff')
FAMILY_CVS = (0.5, 1.0, 1.5)
JITTER_CV = 0.1      # the markov states' own spread
BAD_SHARE = 0.1      # the markov bad state's rate, relative to the mean
DWELL_S = 1.0        # mean time in a markov state, and in an onoff outage


def generate(kind: str, cv: float, mean_mbps: float, seed: int = 0, seconds: float = 120.0,
             step: float = 0.1) -> Trace:
    """A trace of ``kind`` with the given stationary mean (Mbit/s) and CV; ValueError for bad parameters."""
    if kind not in KINDS:
        raise ValueError(f'unknown generated link {kind!r}; known: {", ".join(KINDS)}')
    if not (cv >= 0 and mean_mbps > 0 and seconds > 0 and 0 < step <= seconds):
        raise ValueError(f'a generated link needs cv >= 0, mean > 0 and 0 < step <= seconds, got cv={cv}, '
                         f'mean={mean_mbps}, seconds={seconds}, step={step}')
    rng = np.random.default_rng(seed)
    steps = max(1, int(round(seconds / step)))
    if kind == 'lognormal':
        rates = _lognormal_factors(rng, steps, cv)
    else:
        rates = (_markov if kind == 'markov' else _onoff)(rng, steps, cv, step)
    return Trace(np.arange(steps) * step, mean_mbps * rates, name=f'{kind}-cv{cv:g}-m{mean_mbps:g}-s{seed}')


def _lognormal_factors(rng, steps: int, cv: float) -> np.ndarray:
    sigma2 = math.log1p(cv * cv)
    return np.exp(rng.normal(-sigma2 / 2, math.sqrt(sigma2), steps))


def _two_state(rng, steps: int, p_good: float, step: float) -> np.ndarray:
    """A two-state chain with stationary P(good) = ``p_good`` and mean dwell about DWELL_S
    in the rarer state; True where good.
    """
    leave_rare = min(1.0, step / DWELL_S)
    if p_good >= 0.5:
        leave_bad, leave_good = leave_rare, leave_rare * (1 - p_good) / p_good
    else:
        leave_good, leave_bad = leave_rare, leave_rare * p_good / (1 - p_good)
    good = np.empty(steps, dtype=bool)
    state = rng.random() < p_good
    draws = rng.random(steps)
    for i in range(steps):
        good[i] = state
        if draws[i] < (leave_good if state else leave_bad):
            state = not state
    return good


def _markov(rng, steps: int, cv: float, step: float) -> np.ndarray:
    # mean 1 from rates: bad = BAD_SHARE, good = bad + d, P(good) = p; variance p(1-p)d^2 = cv^2
    d = (1 - BAD_SHARE) + cv * cv / (1 - BAD_SHARE)
    p = (1 - BAD_SHARE) / d
    good = _two_state(rng, steps, p, step)
    levels = np.where(good, BAD_SHARE + d, BAD_SHARE)
    return levels * _lognormal_factors(rng, steps, JITTER_CV)


def _onoff(rng, steps: int, cv: float, step: float) -> np.ndarray:
    # on with probability p at rate 1/p (mean 1); off carries nothing: cv^2 = (1 - p) / p
    p = 1.0 / (1.0 + cv * cv)
    on = _two_state(rng, steps, p, step)
    return np.where(on, 1.0 / p, 0.0) * _lognormal_factors(rng, steps, JITTER_CV)


def from_spec(spec: str) -> Trace:
    """The trace a ``gen:KIND,cv=C,mean=M[,seed=S][,seconds=T][,step=DT]`` spec names."""
    body = spec.removeprefix('gen:')
    kind, *pairs = body.split(',')
    try:
        values = {k: float(v) for k, v in (pair.split('=') for pair in pairs)}
        unknown = set(values) - {'cv', 'mean', 'seed', 'seconds', 'step'}
        if unknown or 'cv' not in values or 'mean' not in values:
            raise ValueError
    except ValueError:
        raise ValueError(f'a generated link is gen:KIND,cv=C,mean=MBPS[,seed=S][,seconds=T][,step=DT] with KIND '
                         f'one of {", ".join(KINDS)}; got {spec!r}') from None
    return generate(kind, values['cv'], values['mean'], int(values.get('seed', 0)), values.get('seconds', 120.0),
                    values.get('step', 0.1))


FAMILY_MEANS = (0.7, 1.5, 3.0)  # Mbit/s: the range of a cellular uplink


def families(seeds: int = 1, seconds: float = 120.0, means=FAMILY_MEANS) -> dict[str, list[Trace]]:
    """Every kind at every CV of FAMILY_CVS, keyed ``kind-cvC``: one trace per mean and seed."""
    return {f'{kind}-cv{cv:g}': [generate(kind, cv, mean, seed, seconds) for mean in means for seed in range(seeds)]
            for kind in KINDS for cv in FAMILY_CVS}
