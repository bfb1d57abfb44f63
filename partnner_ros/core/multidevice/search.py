"""The other planners: dynamic programming (exact for a fixed device order), the
placement paper's greedy and random baselines, exhaustive search for tests, and
:func:`solve`, which runs any of them by name.
"""

import itertools
import math
import time

import numpy as np

from .branch_and_bound import branch_and_bound
from .cluster import Cluster
from .costs import ModelCosts
from .space import SearchSpace, Solution


def dynamic_programming(costs: ModelCosts, cluster: Cluster, order=None) -> Solution:
    """The best plan whose devices appear in ``order`` (default: the cluster's own
    order, e.g. robot, then edge box, then server). Devices may be skipped, so a
    stage may forward straight to any later device of the order.

    best[i][b]: the smallest bottleneck of a plan whose last block ends at segment b
    on the i-th device of the order; each entry takes the min over the previous
    device and start of the block of max(best before, link, stage): O(K^2 m + K m^2).
    """
    started = time.perf_counter()
    sp = SearchSpace(costs, cluster)
    m = sp.m
    order = list(range(sp.n_dev) if order is None else order)
    best = np.full((len(order), m + 1), np.inf)
    prev = np.full((len(order), m + 1), -1)   # position in the order of the previous stage's device (-1: none)
    start = np.zeros((len(order), m + 1), int)  # the segment the last block starts at
    first = sp.link(0, cluster.source)
    for i, e in enumerate(order):
        best[i, 1:] = np.maximum(first[e], sp.stage(0)[:, e])
        for a in range(1, m) if i else ():
            before = np.maximum(best[:i, a], sp.links(a)[order[:i], e])
            j = int(np.argmin(before))
            if math.isinf(before[j]):
                continue
            vals = np.maximum(before[j], sp.stage(a)[:, e])
            better = np.flatnonzero(vals < best[i, a + 1:])
            best[i, a + 1 + better] = vals[better]
            prev[i, a + 1 + better] = j
            start[i, a + 1 + better] = a
    last = int(np.argmin(best[:, m]))
    if math.isinf(best[last, m]):
        return sp.solution('dp', None, started)
    path, i, b = [], last, m
    while i >= 0:
        path.append((order[i], int(start[i, b]), b))
        i, b = int(prev[i, b]), int(start[i, b])
    return sp.solution('dp', path[::-1], started)


def greedy(costs: ModelCosts, cluster: Cluster) -> Solution:
    """Fill each device to capacity, the placement paper's greedy joint
    partitioning-placement: start on the source (else on the device with the most
    memory), give it the longest block from the current cut that fits its memory and
    energy budget, then move to the unused device with the highest bandwidth from it
    that can hold the next segment. Compute speed is ignored. A source too small for
    the first segment only sends the input.
    """
    started = time.perf_counter()
    sp = SearchSpace(costs, cluster)
    d = cluster.source if cluster.source is not None else int(np.argmax(sp.memory))
    used, path, a = {d}, [], 0
    while True:
        b = sp.ends(a, d)
        if b > a:
            path.append((d, a, b))
            a = b
        elif d != cluster.source or a > 0:
            return sp.solution('greedy', None, started,
                               reason=f'{cluster.devices[d].name} cannot hold the next block')
        if a == sp.m:
            return sp.solution('greedy', path, started)
        nxt = [e for e in np.argsort(-cluster.bandwidth_bps[d], kind='stable')
               if e not in used and cluster.bandwidth_bps[d, e] > 0 and sp.ends(a, e) > a]
        if not nxt:
            return sp.solution('greedy', None, started,
                               reason=f'after layer {sp.cut[a] - 1} no unused device linked to '
                                      f'{cluster.devices[d].name} can hold the next block')
        d = int(nxt[0])
        used.add(d)


def random_plan(costs: ModelCosts, cluster: Cluster, rng: np.random.Generator, tries: int = 100) -> Solution:
    """The placement paper's random baseline: from the input on, pick a random unused
    device that can hold the next segment and is linked to the previous stage, give
    it a block ending at a uniformly random cut among those that fit, and go on;
    a dead end starts over (up to ``tries`` times).
    """
    started = time.perf_counter()
    sp = SearchSpace(costs, cluster)
    for _ in range(tries):
        path, a, d, used = [], 0, cluster.source, set()
        while a < sp.m:
            link = sp.link(a, d)
            options = [e for e in range(sp.n_dev) if e not in used and np.isfinite(link[e]) and sp.ends(a, e) > a]
            if not options:
                break
            d = int(rng.choice(options))
            b = int(rng.integers(a + 1, sp.ends(a, d) + 1))
            path.append((d, a, b))
            used.add(d)
            a = b
        if a == sp.m:
            return sp.solution('random', path, started)
    return sp.solution('random', None, started, reason=f'no feasible random plan in {tries} tries')


def exhaustive(costs: ModelCosts, cluster: Cluster, order=None) -> Solution:
    """Every partition into contiguous blocks and every assignment to distinct
    devices (in ``order`` only, when given), through :func:`evaluate`. For tests on
    small instances: the count grows as 2^m x N!.
    """
    started = time.perf_counter()
    sp = SearchSpace(costs, cluster)
    devices = range(sp.n_dev)
    best, best_path = math.inf, None
    for stages in range(1, min(sp.m, sp.n_dev) + 1):
        for inner in itertools.combinations(range(1, sp.m), stages - 1):
            bounds = (0, *inner, sp.m)
            if order is None:
                picks = itertools.permutations(devices, stages)
            else:
                picks = itertools.combinations(order, stages)
            for devs in picks:
                path = [(e, bounds[s], bounds[s + 1]) for s, e in enumerate(devs)]
                plan = sp.plan(path)
                if plan.feasible and plan.bottleneck_s < best:
                    best, best_path = plan.bottleneck_s, path
    return sp.solution('exhaustive', best_path, started, optimal=best_path is not None and order is None)


ALGORITHMS = ('bnb', 'dp', 'greedy', 'random')


def solve(algo: str, costs: ModelCosts, cluster: Cluster, time_limit: float | None = None, seed: int = 0) -> Solution:
    """Run one of :data:`ALGORITHMS` by name; ``time_limit`` applies to bnb, ``seed`` to random."""
    if algo == 'bnb':
        return branch_and_bound(costs, cluster, time_limit)
    if algo == 'dp':
        return dynamic_programming(costs, cluster)
    if algo == 'greedy':
        return greedy(costs, cluster)
    if algo == 'random':
        return random_plan(costs, cluster, np.random.default_rng(seed))
    raise ValueError(f'unknown algorithm {algo!r}; choose from {", ".join(ALGORITHMS)}')
