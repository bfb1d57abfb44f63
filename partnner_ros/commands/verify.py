"""``partnner verify``: head + tail against the full forward at every split."""

import argparse
import sys

from .common import add_model_args, load_model_from, shape_text

HELP = 'check head + tail against the full forward at every split'


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    p.add_argument('--splits', help='comma-separated splits to check (default: all)')
    p.add_argument('--atol', type=float, default=0.0, help='tolerated max abs difference (default 0: bit-exact)')
    p.add_argument('-v', '--verbose', action='store_true', help='print every split')


def run(args) -> int:
    from ..core.model.profiler import verify
    model = load_model_from(args)
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
            shapes = ', '.join(shape_text(s) for s in model.live_shapes(k))
            print(f"split {k:>3}: {'ok  ' if ok else 'FAIL'} max|diff| {diff:.3g}  live {shapes}")
    print(f'{model.name}: {checked - len(failed)}/{checked} splits match the full forward '
          f"({'bit-exact' if args.atol == 0 else f'atol {args.atol}'})"
          + (f'; mismatches at {failed}' if failed else ''))
    return 1 if failed else 0
