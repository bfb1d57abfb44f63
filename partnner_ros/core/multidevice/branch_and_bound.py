"""Exact pipeline planning: depth-first branch and bound over (block end, device)
choices, with bounds computed once per instance and the best plan so far as cut-off.
"""

import math
import time
from dataclasses import dataclass

import numpy as np

from .cluster import Cluster
from .costs import ModelCosts
from .space import SearchSpace, Solution


def branch_and_bound(costs: ModelCosts, cluster: Cluster, time_limit: float | None = None) -> Solution:
    """The plan with the smallest bottleneck over any number of stages (1 to the
    number of devices), each on a distinct device.

    The bound at a partial plan that ended a block at cut a on device d is the best
    completion when devices may be used again, computed once for every (a, d) by a
    backward min-max recursion; only the distinct-device rule is relaxed, so it is
    tight unless the best completion would revisit a device. Where it would, a
    second bound counts: the rest needs at least k more blocks (the fewest that can
    cover it), each entered over a link into a different unused device, so the k-th
    fastest such entry bounds it too. Children are tried best bound first and cut
    off at the incumbent. A branch is also dropped when its remaining parameters
    exceed the unused devices' memory, or when another branch reached the same cut
    on the same device with no larger bottleneck using a subset of its devices (it
    can finish every way this one can). With a time limit the best plan so far is
    returned with the smallest bound among the unexplored branches, so the gap is
    known.
    """
    started = time.perf_counter()
    sp = SearchSpace(costs, cluster)
    search = _Search(sp, _Bounds(sp, cluster.source))
    timed_out = search.run(cluster.source, None if time_limit is None else started + time_limit)
    lower = search.lower_bound(timed_out)
    found = search.best_path is not None
    return sp.solution('bnb', search.best_path, started, lower_bound_s=lower,
                       optimal=bool(found and lower >= search.best), nodes=search.nodes,
                       reason=f'no plan found within {time_limit} s' if timed_out and not found else '')


class _Bounds:
    """Lower bounds on the completions of partial plans, computed once per instance.

    ``through[a][b - a - 1, e]`` bounds every plan whose next block runs segments
    [a, b) on device e, when devices may be used again; ``need[a]`` is the fewest
    blocks that can cover the model from cut a on; ``root`` bounds every plan.
    """

    def __init__(self, sp: SearchSpace, source: int | None):
        m, nd = sp.m, sp.n_dev
        to_go = np.zeros((m + 1, nd))  # to_go[a, d]: best completion after a block ending at a on d (relaxed)
        self.through: dict[int, np.ndarray] = {}
        for a in range(m - 1, -1, -1):
            self.through[a] = np.maximum(sp.stage(a), to_go[a + 1:])
            if a > 0:
                to_go[a] = np.maximum(sp.links(a), self.through[a].min(axis=0)[None, :]).min(axis=1)
        # jumping as far as any device reaches; nd + 1 where no device can take the next segment
        self.need = np.zeros(m + 1, int)
        for a in range(m - 1, -1, -1):
            reach = sp.ends(a)
            self.need[a] = self.need[reach] + 1 if reach > a else nd + 1
        # every block but the first is entered over a link into a distinct device, at best with the
        # fewest bits that cross any later cut over that device's widest incoming link
        self.fewest_bits = np.minimum.accumulate(sp.bits[:-1][::-1])[::-1]
        entry = sorted(range(nd), key=lambda x: sp.inv_bw[:, x].min())
        self.entry = [(x, float(sp.inv_bw[:, x].min())) for x in entry]
        root = float(np.maximum(sp.link(0, source), self.through[0].min(axis=0)).min())
        if self.need[0] > nd:
            root = math.inf
        elif self.need[0] > 1:
            root = max(root, self.entries(self.need[0] - 1, 1, 0))
        self.root = root

    def entries(self, k: int, b: int, used: int) -> float:
        """The k-th fastest possible entry into a device not in the ``used`` mask over a cut at or after b."""
        for x, inv in self.entry:
            if not used >> x & 1:
                k -= 1
                if k <= 0:
                    return self.fewest_bits[b] * inv
        return math.inf


@dataclass(slots=True)
class _Frame:
    """A node of the search: a partial plan whose last block ends at segment ``a`` on
    device ``d``, and its children (``ends[i]`` on ``devs[i]``, bounded by ``vals[i]``)
    sorted best bound first; ``next`` is the first child not yet tried.
    """

    a: int
    d: int | None
    used: int    # bit mask of the devices on the path
    cur: float   # the path's bottleneck so far
    path: tuple  # (device, start segment, end segment) blocks
    vals: np.ndarray
    ends: np.ndarray
    devs: np.ndarray
    next: int = 0


class _Search:
    """The depth-first search: the incumbent, the stack of nodes, and the (cut, device)
    states reached so far with their bottleneck and devices.
    """

    def __init__(self, sp: SearchSpace, bounds: _Bounds):
        self.sp, self.bounds = sp, bounds
        self.memory = [float(x) for x in sp.memory]
        self.best, self.nodes = math.inf, 0
        self.best_path: tuple | None = None  # the incumbent's blocks
        self.stack: list[_Frame] = []
        self.seen: dict[tuple[int, int], list[tuple[float, int]]] = {}  # (cut, device) -> (bottleneck, used mask)

    def run(self, source: int | None, deadline: float | None) -> bool:
        """Search until done, or until ``deadline`` (perf_counter) passes: True when it did."""
        if math.isfinite(self.bounds.root):
            self.stack.append(self.frame(0, source, 0, self.bounds.root, 0.0, ()))
        while self.stack:
            top = self.stack[-1]
            i = top.next
            if i >= len(top.vals) or top.vals[i] >= self.best:
                self.stack.pop()
                continue
            self.nodes += 1
            if deadline is not None and self.nodes % 64 == 0 and time.perf_counter() > deadline:
                return True
            top.next += 1
            if self.branch(top, i):
                break
        return False

    def frame(self, a: int, d: int | None, used: int, floor: float, cur: float, path: tuple) -> _Frame:
        """The node after a block ending at a on d, its children sorted best bound first,
        then longer block. ``floor`` bounds every completion from here.
        """
        sp = self.sp
        vals = np.maximum(self.bounds.through[a], np.maximum(sp.link(a, d), max(cur, floor))[None, :])
        vals[:, [x for x in range(sp.n_dev) if used >> x & 1]] = np.inf
        bs, es = np.nonzero(vals < self.best)
        order = np.lexsort((-bs, vals[bs, es]))
        return _Frame(a, d, used, cur, path, vals[bs, es][order], bs[order] + a + 1, es[order])

    def branch(self, top: _Frame, i: int) -> bool:
        """Try child i of ``top``: a complete plan becomes the incumbent, a partial one is
        pushed unless pruned. True when the incumbent meets the root bound, so is optimal.
        """
        sp, bounds = self.sp, self.bounds
        a, b, e = top.a, int(top.ends[i]), int(top.devs[i])
        value = max(top.cur, float(sp.link(a, top.d)[e]), float(sp.stage(a)[b - a - 1, e]))
        path = top.path + ((e, a, b),)
        if b == sp.m:
            self.best, self.best_path = value, path
            return self.best <= bounds.root
        used = top.used | 1 << e
        free = [x for x in range(sp.n_dev) if not used >> x & 1]
        if len(free) < bounds.need[b] or sp.params[sp.m] - sp.params[b] > sum(self.memory[x] for x in free):
            return False
        floor = bounds.entries(bounds.need[b], b, used)
        if floor >= self.best or self.dominated(b, e, used, value):
            return False
        self.stack.append(self.frame(b, e, used, floor, value, path))
        return False

    def dominated(self, b: int, e: int, used: int, value: float) -> bool:
        """Another branch reached cut b on e as fast with a subset of these devices: it does at least as well."""
        reached = self.seen.setdefault((b, e), [])
        if any(v <= value and u & ~used == 0 for v, u in reached):
            return True
        reached.append((value, used))
        return False

    def lower_bound(self, timed_out: bool) -> float:
        """No plan is faster than this: after a full search the incumbent (the root bound
        if there is none); after a time-out the smallest bound among the untried branches.
        """
        if timed_out:
            pending = [f.vals[f.next] for f in self.stack if f.next < len(f.vals)]
            return max(self.bounds.root, min([self.best] + pending))
        return self.best if self.best_path is not None else self.bounds.root
