"""``partnner profile``: per-cut tensors, payload bytes, MACs and CPU time on this machine, and the
fidelity of each lossy codec against fp32.
"""

import argparse
import json
import sys

from .common import add_model_args, load_model_from, shape_text

HELP = 'per-cut live tensors, payload bytes, MACs, CPU ms and codec fidelity on this machine'


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    p.add_argument('--codec', action='append',
                   help='codec(s) to measure (repeatable; default: all, and jpeg@90, jpeg@75, jpeg@50)')
    p.add_argument('--repeats', type=int, default=5, help='timed forward passes (default 5)')
    p.add_argument('--no-fidelity', dest='fidelity', action='store_false',
                   help='skip measuring each codec against fp32 on a few photos')
    p.add_argument('--json', action='store_true', help='print the full profile as JSON')


def run(args) -> int:
    from ..core.model.profiler import default_codecs, profile
    from ..core.wire import formats
    codecs = args.codec or default_codecs()
    try:
        jpeg = [c for c in codecs if formats.Codec.parse(c).is_jpeg]
    except formats.UnknownCodec as e:
        print(f'partnner profile: {e}', file=sys.stderr)
        return 2
    model = load_model_from(args)
    result = profile(model, codecs, repeats=args.repeats, fidelity=args.fidelity)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    shown = [c for c in codecs if c not in jpeg] or codecs
    _print_table(result, shown)
    if jpeg:
        cut0 = result['cuts'][0]
        print('split 0 as ' + ', '.join(f"{c}: {cut0['bytes'][c]} bytes{_fidelity_text(cut0, c)}" for c in jpeg))
    print('bytes are payload bytes per frame; edge/cloud ms are this machine running the head/tail.')
    if result['fidelity']:
        f = result['fidelity']
        print(f"fidelity ({f['metric']} against fp32, over {len(f['images'])} photos, {f['seconds']:.1f} s): "
              + ', '.join(f"{c} {_worst(result, c):.3f}" for c in codecs if _worst(result, c) is not None)
              + ' at the worst split')
    return 0


def _print_table(result: dict, shown: list[str]) -> None:
    print(f"{result['model']}  fingerprint {result['fingerprint']}  input {shape_text(result['input_shape'])}  "
          f"{result['num_layers']} layers  {result['total_ms']:.1f} ms on {result['machine']['threads']} threads"
          + ('  (random weights)' if result['random_weights'] else ''))
    print(f"{'split':>5}  {'live tensors':<34} {'GMACs head':>10} {'edge ms':>8} {'cloud ms':>8}  "
          + '  '.join(f'{c:>10}' for c in shown))
    for cut in result['cuts']:
        live = ', '.join(shape_text(t['shape']) for t in cut['live'])
        if len(live) > 34:
            live = live[:31] + '...'
        row = '  '.join(f"{cut['bytes'].get(c, 0):>10}" for c in shown)
        print(f"{cut['split']:>5}  {live:<34} {cut['head_macs'] / 1e9:>10.3f} {cut['edge_ms']:>8.2f} "
              f"{cut['cloud_ms']:>8.2f}  {row}")


def _fidelity_text(cut: dict, codec: str) -> str:
    metrics = (cut.get('fidelity') or {}).get(codec)
    return ' (' + ', '.join(f'{k} {v:g}' for k, v in metrics.items()) + ')' if metrics else ''


def _worst(result: dict, codec: str) -> float | None:
    metric = result['fidelity']['metric']
    values = [cut['fidelity'][codec][metric] for cut in result['cuts'] if codec in cut.get('fidelity', {})]
    return min(values) if values else None
