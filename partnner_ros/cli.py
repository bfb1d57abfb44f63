"""The ``partnner`` command: list, profile and verify split models."""

import argparse
import json
import sys


def _shape(shape) -> str:
    return 'x'.join(str(d) for d in shape[1:])


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument('model', help='zoo name (see "partnner models"), a torchvision classifier name, '
                                 'or an ultralytics .pt/.yaml path')
    p.add_argument('--weights', help='local weights file (.pt for ultralytics, a state dict for torchvision); '
                                     'default: seeded random weights')
    p.add_argument('--seed', type=int, default=0, help='seed of the random weights (default 0)')
    p.add_argument('--imgsz', type=int, help="input size (default: the model's own)")


def _load(args):
    from .core.models import load_model
    return load_model(args.model, weights=args.weights, seed=args.seed, input_size=args.imgsz)


def cmd_models(args) -> int:
    from .core.models import ZOO
    if args.json:
        print(json.dumps([vars(s) for s in ZOO.values()], indent=2))
        return 0
    width = max(len(n) for n in ZOO)
    for spec in ZOO.values():
        print(f'{spec.name:<{width}}  {spec.task:<8}  {spec.input_size:>4}px  {spec.description}')
    print('\nAlso: any torchvision classifier by name, or an ultralytics .pt/.yaml path.')
    return 0


def cmd_profile(args) -> int:
    from .core import codec
    from .core.profiler import profile
    codecs = args.codec or list(codec.CODECS)
    try:
        for c in codecs:
            codec.Codec.parse(c)
    except codec.UnknownCodec as e:
        print(f'partnner profile: {e}', file=sys.stderr)
        return 2
    model = _load(args)
    result = profile(model, codecs, repeats=args.repeats)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    shown = [c for c in codecs if c != codec.JPEG] or codecs
    print(f"{result['model']}  fingerprint {result['fingerprint']}  input {_shape(result['input_shape'])}  "
          f"{result['num_layers']} layers  {result['total_ms']:.1f} ms on {result['machine']['threads']} threads"
          + ('  (random weights)' if result['random_weights'] else ''))
    print(f"{'split':>5}  {'live tensors':<34} {'GMACs head':>10} {'edge ms':>8} {'cloud ms':>8}  "
          + '  '.join(f'{c:>10}' for c in shown))
    for cut in result['cuts']:
        live = ', '.join(_shape(t['shape']) for t in cut['live'])
        if len(live) > 34:
            live = live[:31] + '...'
        row = '  '.join(f"{cut['bytes'].get(c, 0):>10}" for c in shown)
        print(f"{cut['split']:>5}  {live:<34} {cut['head_macs'] / 1e9:>10.3f} {cut['edge_ms']:>8.2f} "
              f"{cut['cloud_ms']:>8.2f}  {row}")
    if codec.JPEG in codecs:
        print(f"split 0 as jpeg: {result['cuts'][0]['bytes'][codec.JPEG]} bytes")
    print('bytes are payload bytes per frame; edge/cloud ms are this machine running the head/tail.')
    return 0


def cmd_verify(args) -> int:
    from .core.profiler import verify
    model = _load(args)
    splits = None
    if args.splits:
        splits = [int(s) for s in args.splits.split(',')]
        unknown = [k for k in splits if k not in model.cut_facts]
        if unknown:
            print(f'partnner verify: {model.name} has no split {unknown}; splits are 0..{model.num_layers}',
                  file=sys.stderr)
            return 2
    failed = []
    checked = 0
    for k, diff, exact in verify(model, splits):
        checked += 1
        ok = exact or diff <= args.atol
        if not ok:
            failed.append(k)
        if args.verbose or not ok:
            shapes = ', '.join(_shape(s) for s in model.live_shapes(k))
            print(f"split {k:>3}: {'ok  ' if ok else 'FAIL'} max|diff| {diff:.3g}  live {shapes}")
    print(f'{model.name}: {checked - len(failed)}/{checked} splits match the full forward '
          f"({'bit-exact' if args.atol == 0 else f'atol {args.atol}'})"
          + (f'; mismatches at {failed}' if failed else ''))
    return 1 if failed else 0


def cmd_demo(args) -> int:
    from pathlib import Path

    from .demo import DemoOptions, run_demo
    if args.split is not None and args.policy != 'fixed':
        print('partnner demo: --split goes with --policy fixed', file=sys.stderr)
        return 2
    return run_demo(DemoOptions(
        frames=args.frames, policy=args.policy, split=args.split, model=args.model, weights=args.weights or '',
        codec=args.codec, source=args.source, threads=args.threads, namespace=args.namespace,
        out=Path(args.out), json=args.json))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='partnner', description=__doc__)
    sub = parser.add_subparsers(dest='command', required=True)

    p = sub.add_parser('models', help='list the built-in models')
    p.add_argument('--json', action='store_true')
    p.set_defaults(func=cmd_models)

    p = sub.add_parser('profile', help='per-cut live tensors, payload bytes, MACs and CPU ms on this machine')
    _add_model_args(p)
    p.add_argument('--codec', action='append', help='codec(s) to measure (repeatable; default: all)')
    p.add_argument('--repeats', type=int, default=5, help='timed forward passes (default 5)')
    p.add_argument('--json', action='store_true', help='print the full profile as JSON')
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser('verify', help='check head + tail against the full forward at every split')
    _add_model_args(p)
    p.add_argument('--splits', help='comma-separated splits to check (default: all)')
    p.add_argument('--atol', type=float, default=0.0, help='tolerated max abs difference (default 0: bit-exact)')
    p.add_argument('-v', '--verbose', action='store_true', help='print every split')
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser('demo', help='run camera, edge, cloud, manager and overlay as processes over DDS')
    p.add_argument('--frames', type=int, default=60, help='frames to run; 0: until Ctrl-C (default 60)')
    p.add_argument('--policy', default='fixed', help='partition policy (default fixed)')
    p.add_argument('--split', type=int, help='split for --policy fixed (default: 0, cloud-only)')
    p.add_argument('--model', default='yolov8n', help='model (default yolov8n)')
    p.add_argument('--weights', help='local weights file; default: seeded random weights')
    p.add_argument('--codec', default='fp16+lz4', help='feature codec (default fp16+lz4)')
    p.add_argument('--source', default='bundled', help='camera source: bundled, synthetic, a folder, '
                                                        'an image or a video (default bundled)')
    p.add_argument('--threads', type=int, default=1, help='torch threads of the edge and of the cloud '
                                                          '(default 1 each, as two separate machines)')
    p.add_argument('--namespace', default='/partnner_demo', help='ROS namespace of the demo nodes')
    p.add_argument('--out', default='results/demo', help='where the overlay image, plot and logs go')
    p.add_argument('--json', action='store_true', help='print a machine-readable summary')
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as e:
        print(f'partnner {args.command}: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
