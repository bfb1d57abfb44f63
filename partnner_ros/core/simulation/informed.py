"""The informed policy: a reference for how much reacting to the link can gain.

Reacting to a link cannot know a frame's future; at best it knows the link's state
now and how the link behaves. This policy is told both, as no real policy is: the
link's rate as each frame starts (a real policy knows it at best from a transfer
that has just ended), and, from the whole run in hindsight, what each option costs
on average when started at each rate and at which rate the link is when that frame
is done. It serves each frame with the option that minimises the mean latency per
frame in that model: an average-cost Markov decision process over quantile bands of
the rate, solved by relative value iteration (frames follow each other, so the
mean latency per frame is the mean cost per decision).

It is a reference, not a bound: the bands only approximate the link's state, so on
some traces it lands above best_static (``simulator.run_all`` then reports the best
fixed split for it). Where it is not below best_static, a link's bursts are too
short or too unpredictable for any reaction to pay, and a policy that learns the
link from its own frames, at a probe budget, has nothing to gain over the best
fixed split.
"""

import numpy as np

from .scenario import Scenario, Truth

ITERATIONS = 5000


class InformedDriver:
    """Drives ``simulator.serve`` like a policy's driver, with no probes or pings: each frame's option
    is the informed policy's for the link's rate as the frame starts.
    """

    decision_s = probe_server_ms = 0.0

    def __init__(self, sc: Scenario, truth: Truth, bins: int = 8, step_s: float = 0.05):
        self.sc = sc
        self.probes: list[tuple[float, float]] = []
        options = truth.usable
        t = np.arange(0.0, sc.duration, step_s)
        frame = np.minimum((t * sc.fps).astype(int), len(truth.noise_edge) - 1)
        cost = truth.costs(frame[:, None], t[:, None], options[None, :])[0]
        rate = sc.trace.rate_at(t)
        self.edges = np.unique(np.quantile(rate, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
        state = self._state(rate)
        done = t[:, None] + np.maximum(cost / 1e3, 1.0 / sc.fps)
        after = self._state(sc.trace.rate_at(done))
        self.choice = options[_solve(state, after, cost, len(self.edges) + 1)]

    def _state(self, rate):
        return np.digitize(rate, self.edges, right=True)

    def choose(self, s: float) -> int:
        """The option for the frame served from time ``s``."""
        return int(self.choice[int(self._state(self.sc.trace.rate_at(s)))])

    def feed(self, j, s, costs, o, wait_ms, served, done: float) -> float:
        """Nothing to learn: the pipeline is free when the frame is done."""
        return done


def _solve(state: np.ndarray, after: np.ndarray, cost: np.ndarray, states: int) -> np.ndarray:
    """The option index per state minimising the long-run mean cost per decision: ``cost[t, o]`` from a
    moment ``t`` in ``state[t]``, which leads to ``after[t, o]``. A state never seen takes the options'
    mean costs and transitions over all moments.
    """
    moments, options = cost.shape
    mean_cost = np.empty((states, options))
    move = np.empty((states, options, states))
    for x in range(states):
        at = state == x if np.any(state == x) else np.ones(moments, dtype=bool)
        mean_cost[x] = cost[at].mean(axis=0)
        for o in range(options):
            move[x, o] = np.bincount(after[at, o], minlength=states) / at.sum()
    value = np.zeros(states)
    for _ in range(ITERATIONS):
        # half a step of staying put keeps the iteration aperiodic, and leaves the optimal policy unchanged
        q = mean_cost + 0.5 * (move @ value) + 0.5 * value[:, None]
        new = q.min(axis=1)
        new -= new[0]
        if np.max(np.abs(new - value)) < 1e-9:
            break
        value = new
    return np.argmin(q, axis=1)
