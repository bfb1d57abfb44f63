"""The offline optimum of a fleet: the best fixed option (split and codec) per robot, knowing
every robot's link and the server in hindsight, with the fleet simulator's own costs.

Each robot's useful options are those no other beats on both its own latency (alone,
on an idle server) and the server work it sends: its Pareto front. From all robots at
their least server work, the moves along the fronts are ordered by the latency each
saves per millisecond of server work it adds, as a price on the server's time
would order them; every prefix of that order is a joint assignment. The fleet's
mean latency is simulated on a coarse grid of prefixes and then refined around the
best, so the search costs tens of fleet simulations whatever the number of robots.
:func:`exhaustive` tries every combination, to check it at small N.
"""

import itertools

import numpy as np

from ..simulation.scenario import Scenario, Truth
from ..simulation.simulator import simulate_fixed
from .simulator import FleetRun, Server, simulate_fleet


def pareto_options(sc: Scenario) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The robot's Pareto options, by increasing server work, with their latency alone (ms) and work (ms)."""
    truth = Truth(sc)
    opts = [int(o) for o in truth.usable]
    latency = np.array([r.mean for r in simulate_fixed(sc, opts, truth)])
    frames = np.arange(min(50, len(truth.noise_edge)))
    work = truth.costs(frames[:, None], 0.0, np.array(opts)[None, :])[2].mean(axis=0)
    order = np.lexsort((latency, work))
    keep, best = [], np.inf
    for i in order:
        if latency[i] < best:
            keep.append(int(i))
            best = latency[i]
    return [opts[i] for i in keep], latency[keep], work[keep]


def moves(fronts) -> list[tuple[int, int]]:
    """(robot, index on its front) steps toward more server work, the most latency saved per ms of work
    first (each robot's own steps stay in order: its front is convex after taking the lower hull).
    """
    steps = []
    for i, (_, latency, work) in enumerate(fronts):
        hull = _lower_hull(latency, work)
        for a, b in zip(hull, hull[1:]):
            steps.append(((latency[a] - latency[b]) / max(work[b] - work[a], 1e-9), i, b))
    steps.sort(key=lambda s: -s[0])
    return [(i, b) for _, i, b in steps]


def _lower_hull(latency: np.ndarray, work: np.ndarray) -> list[int]:
    hull: list[int] = []
    for i in range(len(work)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # b lies above the chord from a to i: skipping it saves more latency per unit of work
            if (latency[a] - latency[b]) * (work[i] - work[a]) <= (latency[a] - latency[i]) * (work[b] - work[a]):
                hull.pop()
            else:
                break
        hull.append(i)
    return hull


def optimum(scenarios: list[Scenario], server: Server | list[Server] | None = None, duration_s: float = 60.0,
            grid: int = 12) -> tuple[list[int], FleetRun]:
    """The best joint assignment found (one option per robot; with several servers, robots on them in turn)
    and its fleet run.
    """
    fronts = [pareto_options(sc) for sc in scenarios]
    path = moves(fronts)
    cache: dict[int, FleetRun] = {}

    def run(t: int) -> float:
        if t not in cache:
            cache[t] = simulate_fleet(scenarios, 'static', server, duration_s, _assignment(fronts, path, t))
        return cache[t].mean

    points = sorted({int(round(x)) for x in np.linspace(0, len(path), min(grid, len(path) + 1))})
    best = min(points, key=run)
    lo = max((p for p in points if p < best), default=best)
    hi = min((p for p in points if p > best), default=best)
    while hi - lo > 2:  # ternary search in the bracket around the best grid point
        a, b = lo + (hi - lo) // 3, hi - (hi - lo) // 3
        lo, hi = (lo, b) if run(a) <= run(b) else (a, hi)
    best = min(range(lo, hi + 1), key=run)
    return _assignment(fronts, path, best), cache[best]


def _assignment(fronts, path, t: int) -> list[int]:
    index = [0] * len(fronts)
    for i, b in path[:t]:
        index[i] = b
    return [front[0][j] for front, j in zip(fronts, index)]


def exhaustive(scenarios: list[Scenario], server: Server | list[Server] | None = None,
               duration_s: float = 60.0) -> tuple[list[int], FleetRun]:
    """Every combination of the robots' Pareto options (small fleets only): the best and its run."""
    fronts = [pareto_options(sc)[0] for sc in scenarios]
    runs = [(list(c), simulate_fleet(scenarios, 'static', server, duration_s, list(c)))
            for c in itertools.product(*fronts)]
    return min(runs, key=lambda r: r[1].mean)
