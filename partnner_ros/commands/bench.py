"""``partnner bench``: the live system on an emulated robot, server and shaped link (root)."""

import argparse
import sys
from pathlib import Path

HELP = 'the live system on an emulated robot, server and shaped link (root)'
DESCRIPTION = ('Runs the nodes in two network namespaces (robot, server) joined by a tbf-shaped '
               'link that follows a bandwidth trace, the robot under a CPU quota; each policy '
               'and the fixed splits of the live oracle in turn; writes per-frame CSVs, '
               'summaries, plots and a report comparing live, oracle and simulator.')


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('--trace', required=True, help='a bandwidth trace file ("<seconds> <Mbit/s>" lines, e.g. '
                                                  '$PARTNNER_TRACES/hsdpa/norway_car_2.txt), steps:MBPS,...@SECONDS '
                                                  'or ramp:FROM,TO@SECONDS')
    p.add_argument('--duration', type=float, default=120.0, help='seconds of camera frames per run (default 120)')
    p.add_argument('--edge-slowdown', type=float, default=10.0,
                   help='how many times slower the robot runs the model than the server (default 10); the '
                        'quota is calibrated to it and the measured ratio reported')
    p.add_argument('--model', default='yolov8n', help='model (default yolov8n)')
    p.add_argument('--weights', help='local weights file; default: seeded random weights')
    p.add_argument('--codec', default='fp16+lz4', help='feature codec (default fp16+lz4)')
    p.add_argument('--fps', type=float, default=5.0, help='camera frame rate (default 5)')
    p.add_argument('--policies', default='partnner,edge_only,cloud_only,neurosurgeon,ans',
                   help='runs, comma-separated: policy names or fixed:K (default: the five policies)')
    p.add_argument('--oracle', default='auto', help='fixed splits run for the live oracle: auto (those the '
                                                   'simulated oracle and partnner use), all, none, or K,K,...')
    p.add_argument('--cloud-load', default='', help='server load steps "seconds:factor,...": factor f caps the '
                                                    'cloud at 1/f CPU, e.g. 40:3,80:1')
    p.add_argument('--delay-ms', type=float, default=0.0, help='one-way propagation delay, added by a user-space '
                                                               'delay line (default 0)')
    p.add_argument('--segment', type=float, default=10.0, help='longest oracle segment in seconds (default 10)')
    p.add_argument('--source', default='bundled', help='camera source (default: the bundled photos)')
    p.add_argument('--out', default='results/bench', help='results folder (default results/bench)')
    p.add_argument('--tag', default='bench', help='names the namespaces, devices and cgroups (at most 10 '
                                                  'characters), so two benches can run side by side')
    p.add_argument('--record', action='store_true', help="also record each run on the robot to MCAP "
                                                         "(runs/<label>/recording.mcap; see partnner replay)")
    p.add_argument('--report-only', action='store_true', help='write the report again from the runs in --out '
                                                              '(same scenario flags; no root needed)')


def run(args) -> int:
    from ..core.adaptation.policies import POLICIES
    from ..testbed.bench import BenchOptions, report_again, run_bench
    policies = tuple(p for p in args.policies.split(',') if p)
    bad = [p for p in policies
           if not ((p in POLICIES and p != 'fixed') or (p.startswith('fixed:') and p[6:].isdigit()))]
    if bad or not policies:
        print(f'partnner bench: unknown policies {bad}; use {", ".join(p for p in POLICIES if p != "fixed")} '
              'or fixed:K', file=sys.stderr)
        return 2
    if not args.edge_slowdown >= 1 or not args.duration > 0 or not args.fps > 0 or not 0 <= args.delay_ms <= 10_000:
        print('partnner bench: --edge-slowdown must be >= 1, --duration and --fps positive, --delay-ms in '
              '[0, 10000]', file=sys.stderr)
        return 2
    opts = BenchOptions(
        trace=args.trace, duration=args.duration, edge_slowdown=args.edge_slowdown, model=args.model,
        weights=args.weights or '', codec=args.codec, fps=args.fps, policies=policies, oracle=args.oracle,
        cloud_load=args.cloud_load, delay_ms=args.delay_ms, segment=args.segment, source=args.source,
        out=Path(args.out), tag=args.tag, record=args.record)
    return report_again(opts) if args.report_only else run_bench(opts)
