"""``partnner fleet``: many robots sharing one server, simulated, every coordination mode against the
offline optimum.
"""

import argparse
import json
import sys
from pathlib import Path

from .common import profile_for

HELP = 'simulate N robots sharing servers: edge-only, cloud-only, partnner alone and coordinated, the optimum'


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('--model', default='yolov8n', help='model every robot runs (default yolov8n)')
    p.add_argument('--robots', type=int, default=8, help='number of robots (default 8)')
    p.add_argument('--link', default='gen:lognormal,cv=0.5,mean=8',
                   help='each robot\'s link, as partnner simulate --trace takes one (a file, steps:, ramp: or gen:); '
                        'a generated link gets robot i\'s own seed (default gen:lognormal,cv=0.5,mean=8)')
    p.add_argument('--platform', default='edge10x', help='robot platform, as partnner simulate takes it')
    p.add_argument('--server-speed', type=float, default=5.0,
                   help='each server\'s speed relative to this machine (default 5: a small GPU server)')
    p.add_argument('--servers', type=int, default=1, help='number of servers (default 1); robots start on them '
                                                         'in turn')
    p.add_argument('--fail-server-at', type=float, metavar='SECONDS',
                   help='server1 dies at this time: its robots must move to the others (needs --servers 2 or more)')
    p.add_argument('--max-batch', type=int,
                   help='requests per batch at most (default: the largest batch that the batching gain says pays, '
                        'so 1 on this CPU)')
    p.add_argument('--max-batch-wait-ms', type=float, default=4.0, help='a batch waits this long at most (default 4)')
    p.add_argument('--fps', type=float, default=10.0, help='camera frame rate of every robot (default 10)')
    p.add_argument('--duration', type=float, default=60.0, help='simulated seconds (default 60)')
    p.add_argument('--batch-gain', default='cpu', choices=('cpu', 'gpu', 'measure'),
                   help='how much batching speeds the server up per request: cpu (measured here: none), gpu (an '
                        'estimate, docs/fleet.md), or measure it now on this machine (batches of 1, 2, 4 and 8 at '
                        'split 0 and mid-model; split 0\'s is used)')
    p.add_argument('--no-optimum', action='store_true', help='skip the offline optimum (its search is the slow part)')
    p.add_argument('--per-robot', action='store_true', help='also print each robot under coordinated partnner')
    p.add_argument('--profile-cache', default='results/profiles', help='where measured profiles are kept')
    p.add_argument('--live', action='store_true',
                   help='run the fleet live instead (root): robot and server namespaces with real nodes, each robot '
                        'behind its own shaped link (--mbps) and CPU quota (--robot-cpus), with --policy')
    p.add_argument('--mbps', default='8', help='live: each robot\'s link rate, Mbit/s; a comma list is used in turn')
    p.add_argument('--robot-cpus', type=float, default=0.1, help='live: CPU quota of each robot (default 0.1)')
    p.add_argument('--policy', default='partnner', help='live: every robot\'s policy (default partnner), or '
                                                       'uncoordinated: partnner deaf to the server\'s load')
    p.add_argument('--out', type=Path, help='also write report.md, report.json and figures (latency and split '
                                            'per robot over time, each server\'s queue and price) into this folder')
    p.add_argument('--json', action='store_true')


def run(args) -> int:
    from ..core.fleet.optimum import optimum
    from ..core.fleet.simulator import BATCH_GAINS, MODES, Server, simulate_fleet
    from ..core.simulation.platforms import resolve_platform
    from ..core.simulation.scenario import Scenario, SimProfile
    from ..core.simulation.traces import trace_from_spec
    given_batch = 1 if args.max_batch is None else args.max_batch
    if min(args.robots, args.server_speed, args.duration, args.fps, given_batch, args.servers) <= 0:
        print('partnner fleet: --robots, --servers, --server-speed, --duration, --fps and --max-batch must be '
              'positive', file=sys.stderr)
        return 2
    if args.fail_server_at is not None and args.servers < 2:
        print('partnner fleet: --fail-server-at needs --servers 2 or more', file=sys.stderr)
        return 2
    if args.live:
        return run_live(args)
    measured = profile_for(args.model, None, args.profile_cache, sys.stderr)
    profile = SimProfile.from_profile(measured)
    platform = resolve_platform(args.platform, measured)
    gain = measure_batching(args.model) if args.batch_gain == 'measure' else BATCH_GAINS[args.batch_gain]
    max_batch = args.max_batch if args.max_batch is not None else max(b for b, g in gain.items() if g >= 1.0)
    servers = [Server(speed=args.server_speed, batch_gain=gain, max_batch=max_batch, max_wait_ms=args.max_batch_wait_ms,
                      name=f'server{m + 1}', fails_at_s=args.fail_server_at if m == 0 else None)
               for m in range(args.servers)]
    scenarios = [Scenario(profile, platform, trace_from_spec(_robot_link(args.link, i)), fps=args.fps, seed=i,
                          duration_s=args.duration) for i in range(args.robots)]
    runs = {mode: simulate_fleet(scenarios, mode, servers, args.duration) for mode in MODES}
    if not args.no_optimum:
        runs['optimum'] = optimum(scenarios, servers, args.duration)[1]
    rows = fleet_rows(runs)
    if args.json:
        print(json.dumps({'model': profile.name, 'robots': args.robots, 'link': args.link, 'platform': platform.name,
                          'server_speed': args.server_speed, 'modes': rows}, indent=1))
        return 0
    died = f', server1 dies at {args.fail_server_at:g} s' if args.fail_server_at is not None else ''
    title = (f'{args.robots} robots ({profile.name} on {platform.name}, link {args.link}) sharing {args.servers} '
             f'server(s) {args.server_speed:g}x this machine{died}, batches of up to {max_batch} '
             f'({args.batch_gain} batching gain), {args.duration:g} s')
    print(title)
    print(format_rows(rows))
    if args.out:
        from .fleet_report import write_report
        print(f'report: {write_report(args.out, title, rows, runs, format_rows(rows))}')
    if args.per_robot:
        print('\ncoordinated partnner, per robot: mean / p95 ms, frames per second, cloud share')
        for r in runs['partnner'].robots:
            print(f'  {r.name:>9}  {r.mean:7.0f} / {r.p95:7.0f}  {r.fps:5.2f}  {(r.split == 0).mean():.2f}')
    return 0


def run_live(args) -> int:
    """The fleet as real nodes on this machine; prints each robot's figures (and writes them to --out)."""
    from ..testbed import cpu_quota, link
    from ..testbed.fleet_bench import FleetBench, FleetOptions
    why = link.unavailable() or cpu_quota.unavailable()
    if why:
        print(f'partnner fleet --live: {why}', file=sys.stderr)
        return 2
    opts = FleetOptions(robots=args.robots, servers=args.servers, mbps=[float(m) for m in args.mbps.split(',')],
                        robot_cpus=args.robot_cpus, model=args.model, policy=args.policy, fps=args.fps,
                        duration=args.duration, fail_server_at=args.fail_server_at,
                        out=args.out or Path('results/fleet_live'))
    with FleetBench(opts) as bench:
        figures = bench.run()
    (opts.out / 'fleet.json').write_text(json.dumps(figures, indent=1))
    from .fleet_report import plot_live
    plot_live(opts.out, list(figures['robots']), f'live: {args.robots} robots, {args.servers} server(s), '
              f'{args.mbps} Mbit/s, {args.robot_cpus:g} CPU each, policy {args.policy}, {args.fps:g} fps')
    print(f'{"robot":<8} {"images":>6} {"served":>6} {"dropped":>7} {"lost":>4} {"mean ms":>8} {"p95 ms":>8} '
          f'{"cloud":>5}  servers')
    for name, r in figures['robots'].items():
        print(f'{name:<8} {r["images"]:6d} {r["served"]:6d} {r["dropped"]:7d} {r["lost"]:4d} {r["mean_ms"]:8.0f} '
              f'{r["p95_ms"]:8.0f} {r["cloud_share"]:5.2f}  {" -> ".join(s or "(unnamed)" for s in r["servers"])}')
    return 0


def measure_batching(model_name: str) -> dict[int, float]:
    """Print the model's batching gain on this machine at split 0 and mid-model; returns split 0's."""
    from ..core.model.batch_speed import batch_gain
    from ..core.model.zoo import load_model
    model = load_model(model_name)
    print(f'batching {model.name} on this machine (per request: one by one over batched; ms per request batched)')
    gains = {}
    for split in (0, model.num_layers // 2):
        measured = batch_gain(model, split)
        print(f'  split {split:2d}: ' + '  '.join(f'batch {b}: {m["gain"]:.2f}x ({m["ms_per_request"]:.1f} ms)'
                                                 for b, m in measured.items()))
        gains = gains or {b: max(m['gain'], 1e-3) for b, m in measured.items()}
    return gains


def _robot_link(spec: str, i: int) -> str:
    """Robot i's link: a generated one with its own seed, anything else as given."""
    if not spec.startswith('gen:'):
        return spec
    fields = [f for f in spec[4:].split(',') if not f.startswith('seed=')]
    return 'gen:' + ','.join([*fields, f'seed={i}'])


def fleet_rows(runs: dict) -> dict[str, dict]:
    """Per mode: fleet mean, its ratio to the optimum (when run), worst robot's p95, mean frames per second,
    server utilisation, mean batch size and Jain's fairness index.
    """
    best = runs['optimum'].mean if 'optimum' in runs else float('nan')
    return {mode: {'mean_ms': r.mean, 'x_optimum': r.mean / best, 'worst_p95_ms': max(x.p95 for x in r.robots),
                   'fps': sum(x.fps for x in r.robots) / len(r.robots), 'utilisation': r.utilisation,
                   'batch': float(r.batch_sizes.mean()) if len(r.batch_sizes) else 0.0, 'jain': r.jain,
                   'lost': sum(x.lost for x in r.robots), 'moves': sum(x.moves for x in r.robots)}
            for mode, r in runs.items()}


def format_rows(rows: dict[str, dict]) -> str:
    """The modes as a plain-text table."""
    head = f'{"mode":<14} {"mean ms":>8} {"x optimum":>9} {"worst p95":>9} {"fps":>5} {"server":>6} {"batch":>5} ' \
           f'{"Jain":>5} {"lost":>5} {"moves":>5}'
    lines = [head] + [f'{mode:<14} {r["mean_ms"]:8.0f} {r["x_optimum"]:9.3f} {r["worst_p95_ms"]:9.0f} {r["fps"]:5.2f} '
                      f'{r["utilisation"]:6.0%} {r["batch"]:5.2f} {r["jain"]:5.3f} {r["lost"]:5d} {r["moves"]:5d}'
                      for mode, r in rows.items()]
    return '\n'.join(lines)
