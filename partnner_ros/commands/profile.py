"""``partnner profile``: per-cut tensors, payload bytes, MACs and CPU time on this machine."""

import argparse
import json
import sys

from .common import add_model_args, load_model_from, shape_text

HELP = 'per-cut live tensors, payload bytes, MACs and CPU ms on this machine'


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    p.add_argument('--codec', action='append', help='codec(s) to measure (repeatable; default: all)')
    p.add_argument('--repeats', type=int, default=5, help='timed forward passes (default 5)')
    p.add_argument('--json', action='store_true', help='print the full profile as JSON')


def run(args) -> int:
    from ..core.model.profiler import profile
    from ..core.wire import formats
    codecs = args.codec or list(formats.CODECS)
    try:
        for c in codecs:
            formats.Codec.parse(c)
    except formats.UnknownCodec as e:
        print(f'partnner profile: {e}', file=sys.stderr)
        return 2
    model = load_model_from(args)
    result = profile(model, codecs, repeats=args.repeats)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    shown = [c for c in codecs if c != formats.JPEG] or codecs
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
    if formats.JPEG in codecs:
        print(f"split 0 as jpeg: {result['cuts'][0]['bytes'][formats.JPEG]} bytes")
    print('bytes are payload bytes per frame; edge/cloud ms are this machine running the head/tail.')
    return 0
