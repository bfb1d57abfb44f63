"""When splitting helps: the best plan against the best single device (Feltin et
al.'s acceleration region, for one case).
"""

import math
from dataclasses import dataclass, field

from .branch_and_bound import branch_and_bound
from .cluster import Cluster
from .costs import ModelCosts
from .plan import Plan, evaluate, finite
from .space import Solution


@dataclass
class Acceleration:
    """Whether any split beats the best single device, and by how much (Feltin et
    al.'s acceleration region, for one case). ``speedup`` is the best single
    device's bottleneck over the best plan's: 1 when no split helps, inf when no
    single device can run the model at all.
    """

    single: Plan | None
    best: Plan | None
    speedup: float
    helps: bool
    solution: Solution = field(repr=False)

    @property
    def verdict(self) -> str:
        """One sentence for people: whether splitting helps, is required, or no plan exists."""
        if self.best is None:
            return f'no feasible plan: {self.solution.reason}'
        if self.single is None:
            return f'the model fits on no single device; splitting is required ({len(self.best.stages)} stages)'
        name = self.single.stages[0].device_name
        if not self.helps:
            return f'no split beats running everything on {name} ({self.single.bottleneck_s * 1e3:.1f} ms)'
        return (f'splitting helps: {self.speedup:.2f}x the throughput of the best single device '
                f'({name}, {self.single.bottleneck_s * 1e3:.1f} ms)')

    def to_dict(self) -> dict:
        """The verdict for JSON, with the best single-device plan."""
        return {'helps': self.helps, 'speedup': finite(self.speedup), 'verdict': self.verdict,
                'single_device': self.single.to_dict() if self.single else None}


def acceleration_region(costs: ModelCosts, cluster: Cluster, time_limit: float | None = None,
                        solution: Solution | None = None) -> Acceleration:
    """Compare the best single-device plan with the best plan (``solution``, a
    branch-and-bound result, is solved here when not given).
    """
    solution = solution or branch_and_bound(costs, cluster, time_limit)
    n = costs.num_layers
    singles = [p for p in (evaluate(costs, cluster, [(d, 0, n)]) for d in range(len(cluster.devices))) if p.feasible]
    single = min(singles, key=lambda p: p.bottleneck_s, default=None)
    best = solution.plan
    if best is None or single is None:
        return Acceleration(single, best, math.inf if best else 1.0, best is not None, solution)
    speedup = single.bottleneck_s / best.bottleneck_s
    return Acceleration(single, best, float(speedup), bool(len(best.stages) > 1 and speedup > 1 + 1e-9), solution)
