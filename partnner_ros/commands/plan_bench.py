"""The placement paper's comparison, reproduced (Parthasarathy & Krishnamachari 2022):
random clusters of edge nodes, and the random, greedy and branch-and-bound planners
on each, for several models and cluster sizes.

As in the paper, nodes lie uniformly at random in a 150 x 150 area and the link
between two nodes at distance d carries log2(1 + 283230 / d^2) Mbit/s (2.9 across
the diagonal, 11.5 at distance 10); memories are uniform in 64..512 MB. The paper neglects
compute and assumes equal memories (its algorithm takes the smallest). Here every
node is equally fast (``speed`` x the reference machine of the costs), so compute
counts but does not favour any node, and two memory regimes are run: ``uniform``
(each node its own memory) and ``smallest`` (every node gets the cluster's
smallest, the paper's assumption). The input is already on the first stage.
"""

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.multidevice.branch_and_bound import branch_and_bound
from ..core.multidevice.cluster import Cluster, Device
from ..core.multidevice.costs import MB, ModelCosts
from ..core.multidevice.search import greedy, random_plan

HELP = 'random vs greedy vs branch-and-bound on random edge clusters (Parthasarathy & Krishnamachari)'


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('--out', default='results/plan_bench', help='results folder (default results/plan_bench)')
    p.add_argument('--trials', type=int, default=50, help='random clusters per row (default 50)')
    p.add_argument('--nodes', default='5,10,20,50', help='cluster sizes (default 5,10,20,50)')
    p.add_argument('--models', default='resnet50,efficientnet_b0,efficientnet_b1,mobilenet_v2,inception_v3',
                   help='comma-separated models')
    p.add_argument('--regimes', default='uniform,smallest',
                   help='memory regimes: uniform (each node its own) and/or smallest (all get the least)')
    p.add_argument('--memory-mb', default='64,512', help='node memory range in MB (default 64,512)')
    p.add_argument('--speed', type=float, default=1.0, help='every node\'s speed, x the reference (default 1)')
    p.add_argument('--macs-per-s', type=float, default=1e10,
                   help='the reference: MACs per second of a speed-1 node (default 1e10)')
    p.add_argument('--time-limit', type=float, default=10.0, help='seconds per branch-and-bound (default 10)')
    p.add_argument('--seed', type=int, default=0)


def run(args) -> int:
    from ..core.model.zoo import load_model
    models = {}
    for name in args.models.split(','):
        print(f'partnner: loading {name}', file=sys.stderr)
        models[name] = ModelCosts.from_model(load_model(name), args.macs_per_s)
    low, high = (float(v) for v in args.memory_mb.split(','))
    cfg = BenchConfig(models, tuple(int(n) for n in args.nodes.split(',')), args.trials,
                      tuple(args.regimes.split(',')), (low, high), args.speed, args.time_limit, args.seed)
    result = run_bench(cfg, log=lambda line: print(line, file=sys.stderr))
    write(result, Path(args.out))
    print(markdown(result))
    print(f'written to {Path(args.out) / "plan_bench.md"} and plan_bench.json')
    return 0


AREA = 150.0
SNR_AT_UNIT_DISTANCE = 283230.0
MEMORY_REGIMES = ('uniform', 'smallest')


def paper_cluster(nodes: int, rng: np.random.Generator, memory_mb=(64.0, 512.0), regime: str = 'uniform',
                  speed: float = 1.0) -> Cluster:
    """A random cluster of ``nodes`` as in the paper's evaluation."""
    if regime not in MEMORY_REGIMES:
        raise ValueError(f'memory regime is one of {", ".join(MEMORY_REGIMES)}')
    pos = rng.uniform(0.0, AREA, (nodes, 2))
    d2 = ((pos[:, None, :] - pos[None, :, :]) ** 2).sum(axis=-1)
    with np.errstate(divide='ignore'):
        mbps = np.log2(1.0 + SNR_AT_UNIT_DISTANCE / d2)
    np.fill_diagonal(mbps, 0.0)
    memory = rng.uniform(*memory_mb, nodes) * MB
    if regime == 'smallest':
        memory[:] = memory.min()
    return Cluster([Device(f'node{i}', speed, memory[i]) for i in range(nodes)], mbps * 1e6)


@dataclass
class BenchConfig:
    """One benchmark: the models' costs, cluster sizes, trials per row, memory regimes and range, node speed."""

    models: dict[str, ModelCosts]
    nodes: tuple[int, ...] = (5, 10, 20, 50)
    trials: int = 50
    regimes: tuple[str, ...] = MEMORY_REGIMES
    memory_mb: tuple[float, float] = (64.0, 512.0)
    speed: float = 1.0
    time_limit: float = 10.0
    seed: int = 0


def run_trial(costs: ModelCosts, cluster: Cluster, rng: np.random.Generator, time_limit: float) -> dict:
    exact = branch_and_bound(costs, cluster, time_limit)
    out = {}
    for sol in (random_plan(costs, cluster, rng), greedy(costs, cluster), exact):
        out[sol.algo] = {'bottleneck_ms': sol.plan.bottleneck_s * 1e3 if sol.plan else None,
                         'stages': len(sol.plan.stages) if sol.plan else 0, 'solve_ms': sol.seconds * 1e3}
    out['bnb'].update(optimal=exact.optimal, gap=exact.gap, nodes=exact.nodes)
    return out


def summarize(trials: list[dict]) -> dict:
    """Mean bottleneck ratios over the trials where all three found a plan; solve times over all."""
    solved = [t for t in trials if t['bnb']['bottleneck_ms'] is not None]
    both = [t for t in solved if t['random']['bottleneck_ms'] is not None and t['greedy']['bottleneck_ms'] is not None]

    def ratio(algo):
        return float(np.mean([t[algo]['bottleneck_ms'] / t['bnb']['bottleneck_ms'] for t in both])) if both else None

    def saving(algo):  # the paper's "x% lower bottleneck than algo"
        if not both:
            return None
        return float(np.mean([1 - t['bnb']['bottleneck_ms'] / t[algo]['bottleneck_ms'] for t in both]))
    solve = [t['bnb']['solve_ms'] for t in trials]
    limited = [t['bnb'] for t in solved if not t['bnb']['optimal']]
    return {
        'trials': len(trials), 'feasible': len(solved),
        'greedy_failed': sum(t['greedy']['bottleneck_ms'] is None for t in solved),
        'compared': len(both), 'random_over_bnb': ratio('random'), 'greedy_over_bnb': ratio('greedy'),
        'bnb_saving_over_greedy': saving('greedy'),
        'bnb_ms': float(np.mean([t['bnb']['bottleneck_ms'] for t in solved])) if solved else None,
        'bnb_stages': float(np.mean([t['bnb']['stages'] for t in solved])) if solved else None,
        'bnb_solve_ms_mean': float(np.mean(solve)), 'bnb_solve_ms_max': float(np.max(solve)),
        'greedy_solve_ms_mean': float(np.mean([t['greedy']['solve_ms'] for t in trials])),
        'bnb_time_limited': len(limited),
        'bnb_gap_max': max((t['gap'] for t in limited if t['gap'] is not None), default=None),
    }


def run_bench(cfg: BenchConfig, log=None) -> dict:
    """Every model x regime x cluster size, ``cfg.trials`` random clusters each; the
    same clusters (seeded by trial) for every model.
    """
    rows = []
    for regime in cfg.regimes:
        for nodes in cfg.nodes:
            for name, costs in cfg.models.items():
                started = time.perf_counter()
                trials = []
                for trial in range(cfg.trials):
                    rng = np.random.default_rng([cfg.seed, nodes, trial])
                    cluster = paper_cluster(nodes, rng, cfg.memory_mb, regime, cfg.speed)
                    trials.append(run_trial(costs, cluster, rng, cfg.time_limit))
                row = {'regime': regime, 'nodes': nodes, 'model': name, **summarize(trials), 'runs': trials}
                rows.append(row)
                if log:
                    log(f'{regime:>8} {nodes:>3} nodes {name:<16} {format_ratio(row["random_over_bnb"])} random/bnb  '
                        f'{format_ratio(row["greedy_over_bnb"])} greedy/bnb  ({time.perf_counter() - started:.1f} s)')
    return {'config': {'nodes': list(cfg.nodes), 'trials': cfg.trials, 'regimes': list(cfg.regimes),
                       'memory_mb': list(cfg.memory_mb), 'speed': cfg.speed, 'time_limit_s': cfg.time_limit,
                       'seed': cfg.seed,
                       'models': {n: {'layers': c.num_layers, 'usable_cuts': len(c.cuts),
                                      'param_mb': c.param_bytes.sum() / MB, 'work_s': float(c.work_s.sum())}
                                  for n, c in cfg.models.items()}},
            'rows': rows, 'overall': overall(rows)}


def overall(rows: list[dict]) -> dict:
    """Per regime, the trial-weighted mean ratios over every model and size."""
    out = {}
    for regime in dict.fromkeys(r['regime'] for r in rows):
        mine = [r for r in rows if r['regime'] == regime and r['compared']]
        weight = sum(r['compared'] for r in mine)
        out[regime] = {key: sum(r[key] * r['compared'] for r in mine) / weight if weight else None
                       for key in ('random_over_bnb', 'greedy_over_bnb', 'bnb_saving_over_greedy')}
        solve = [r['bnb_solve_ms_max'] for r in rows if r['regime'] == regime]
        out[regime]['bnb_solve_ms_max'] = max(solve) if solve else None
    return out


def format_ratio(x) -> str:
    return '   -  ' if x is None or math.isnan(x) else f'{x:6.2f}'


def percent(x) -> str:
    return '-' if x is None else f'{100 * x:.0f}%'


def markdown(result: dict) -> str:
    cfg = result['config']
    lines = ['# Pipeline planners on random edge clusters\n',
             f"{cfg['trials']} random clusters per row (150 x 150 area, log2(1 + 283230/d^2) Mbit/s links, "
             f"memory {cfg['memory_mb'][0]:g}..{cfg['memory_mb'][1]:g} MB, all nodes at speed {cfg['speed']:g}); "
             f"branch-and-bound time limit {cfg['time_limit_s']:g} s. Ratios are mean bottleneck over the optimum "
             "(branch-and-bound) on the trials where every planner found a plan; \"bnb saves\" is the mean of "
             "1 - bnb / greedy.\n"]
    for regime in cfg['regimes']:
        lines += [f"\n## memory: {regime}\n",
                  '| model | nodes | feasible | random / bnb | greedy / bnb | bnb saves vs greedy | greedy failed '
                  '| bnb bottleneck ms | bnb stages | bnb solve ms (mean / max) | time-limited (max gap) |',
                  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
        for r in (r for r in result['rows'] if r['regime'] == regime):
            gap = '' if r['bnb_gap_max'] is None else f" ({100 * r['bnb_gap_max']:.1f}%)"
            bottleneck = '-' if r['bnb_ms'] is None else f"{r['bnb_ms']:.0f}"
            stages = '-' if r['bnb_stages'] is None else f"{r['bnb_stages']:.1f}"
            lines.append(
                f"| {r['model']} | {r['nodes']} | {r['feasible']}/{r['trials']} | {format_ratio(r['random_over_bnb'])} "
                f"| {format_ratio(r['greedy_over_bnb'])} | {percent(r['bnb_saving_over_greedy'])} "
                f"| {r['greedy_failed']} | {bottleneck} | {stages} "
                f"| {r['bnb_solve_ms_mean']:.0f} / {r['bnb_solve_ms_max']:.0f} | {r['bnb_time_limited']}{gap} |")
        o = result['overall'].get(regime, {})
        lines.append(f"\nAll rows: random / bnb {format_ratio(o.get('random_over_bnb')).strip()}, greedy / bnb "
                     f"{format_ratio(o.get('greedy_over_bnb')).strip()} (branch-and-bound "
                     f"{percent(o.get('bnb_saving_over_greedy'))} lower), slowest branch-and-bound solve "
                     f"{o.get('bnb_solve_ms_max') or 0:.0f} ms.")
    return '\n'.join(lines) + '\n'


def write(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / 'plan_bench.json').write_text(json.dumps(result, indent=1))
    (out / 'plan_bench.md').write_text(markdown(result))
