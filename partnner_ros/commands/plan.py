"""``partnner plan``: split a model into a throughput-optimal pipeline over several devices."""

import argparse
import json
import sys
from pathlib import Path

from .common import profile_for

HELP = 'split a model into a pipeline over several devices (throughput-optimal)'
DESCRIPTION = ('Cuts the model into contiguous blocks, one device each, minimising the bottleneck\n'
               '(slowest stage compute or link transfer) within each device\'s memory (parameters plus\n'
               'peak activations) and energy budget, and says whether splitting beats the best single\n'
               'device (the acceleration region).\n\nThe device file (YAML; see '
               'config/devices_example.yaml):\n\n'
               '  source: robot        # optional: the device whose camera produces the frames\n'
               '  devices:             # speed: x the machine that profiled the model\n'
               '    - {name: robot, speed: 0.15, memory_mb: 512, power_w: 5, energy_budget_j: 0.5}\n'
               '    - {name: laptop, speed: 1.0, memory_mb: 8192}\n'
               '  links:               # Mbit/s, both directions; unlisted pairs have no link\n'
               '    - [robot, laptop, 20]\n'
               '  # or bandwidth_mbps: [[0, 20], [20, 0]]   (row: from, column: to)')
RAW_DESCRIPTION = True


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('--model', required=True, help='model to plan (profiled on this machine, then cached)')
    p.add_argument('--devices', required=True, help='the device file (YAML)')
    p.add_argument('--algo', default='all', choices=('all', 'bnb', 'dp', 'greedy', 'random'),
                   help='bnb: exact branch-and-bound; dp: exact for the devices in file order; greedy: fill '
                        'each device to capacity; random (default all)')
    p.add_argument('--time-limit', type=float, default=10.0,
                   help='seconds for branch-and-bound; past it the best plan and the gap are shown (default 10)')
    p.add_argument('--codec', default='fp32', help='payload codec between stages (default fp32)')
    p.add_argument('--input-codec', help='codec of the input image, e.g. jpeg (default: --codec)')
    p.add_argument('--seed', type=int, default=0, help='seed of the random planner')
    p.add_argument('--profile', help='a profile JSON (partnner profile --json) instead of measuring')
    p.add_argument('--profile-cache', default='results/profiles', help='where measured profiles are kept')
    p.add_argument('--json', action='store_true')


def run(args) -> int:
    import yaml

    from ..core.model.zoo import load_model
    from ..core.multidevice.acceleration import acceleration_region
    from ..core.multidevice.cluster import Cluster
    from ..core.multidevice.costs import MB, ModelCosts, layer_param_bytes
    from ..core.multidevice.plan import finite
    from ..core.multidevice.search import ALGORITHMS, solve
    cluster = Cluster.from_dict(yaml.safe_load(Path(args.devices).read_text()) or {})
    profile = profile_for(args.model, args.profile, args.profile_cache, sys.stderr)
    costs = ModelCosts.from_profile(profile, layer_param_bytes(load_model(args.model)), args.codec, args.input_codec)
    solutions = {a: solve(a, costs, cluster, args.time_limit, args.seed)
                 for a in (ALGORITHMS if args.algo == 'all' else (args.algo,))}
    acc = acceleration_region(costs, cluster, args.time_limit, solutions.get('bnb'))
    devices = cluster.devices
    if args.json:
        print(json.dumps({
            'model': costs.name, 'layers': costs.num_layers, 'usable_cuts': len(costs.cuts),
            'param_mb': costs.param_bytes.sum() / MB, 'codec': args.codec,
            'input_codec': args.input_codec or args.codec,
            'source': None if cluster.source is None else devices[cluster.source].name,
            'devices': [{'name': d.name, 'speed': d.speed, 'memory_mb': finite(d.memory_bytes / MB),
                         'power_w': d.power_w, 'energy_budget_j': finite(d.energy_budget_j)} for d in devices],
            'plans': {a: s.to_dict() for a, s in solutions.items()}, 'acceleration': acc.to_dict()}, indent=1))
    else:
        print(f'{costs.name}: {costs.num_layers} layers, {len(costs.cuts)} usable cuts, '
              f'{costs.param_bytes.sum() / MB:.1f} MB of parameters; payload {args.codec}'
              + (f' (input {args.input_codec})' if args.input_codec else ''))
        print('devices: ' + ', '.join(f'{d.name} (speed {d.speed:g}, {d.memory_bytes / MB:.0f} MB)' for d in devices)
              + ('' if cluster.source is None else f'; frames from {devices[cluster.source].name}'))
        width = max(len(d.name) for d in devices)
        for algo, sol in solutions.items():
            if sol.plan is None:
                print(f'\n{algo}: no feasible plan ({sol.reason}); {sol.seconds * 1e3:.1f} ms')
                continue
            p = sol.plan
            status = 'optimal' if sol.optimal else (f'gap <= {100 * sol.gap:.1f}%' if sol.gap is not None else '')
            print(f'\n{algo}: bottleneck {p.bottleneck_s * 1e3:.1f} ms, {p.throughput_fps:.1f} frames/s, '
                  f'solved in {sol.seconds * 1e3:.1f} ms' + (f' ({status})' if status else ''))
            for i, s in enumerate(p.stages, 1):
                print(f'  stage {i}  {s.device_name:<{width}}  compute {s.compute_s * 1e3:7.1f} ms  '
                      f'input {s.transfer_in_s * 1e3:7.1f} ms  memory {s.memory_bytes / MB:7.1f} / '
                      f'{devices[s.device].memory_bytes / MB:.0f} MB  {_layer_span(costs, s)}')
        print(f'\nacceleration region: {acc.verdict}')
    return 0 if any(s.plan for s in solutions.values()) else 1


def _layer_span(costs, stage) -> str:
    first, last = costs.layer_names[stage.start], costs.layer_names[stage.stop - 1]
    return f'layers {stage.start}..{stage.stop - 1} ({first} .. {last})'
