"""What several subcommands share: the model arguments, and a model's profile."""

import argparse
import json
import os
import sys
from pathlib import Path


def default_traces() -> str:
    return os.environ.get('PARTNNER_TRACES', '../shared/traces')


def shape_text(shape) -> str:
    """A tensor shape without its batch dimension, as 3x640x640."""
    return 'x'.join(str(d) for d in shape[1:])


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument('model', help='zoo name (see "partnner models"), a torchvision classifier name, '
                                 'or an ultralytics .pt/.yaml path')
    p.add_argument('--weights', help='local weights file (.pt for ultralytics, a state dict for torchvision); '
                                     'default: seeded random weights')
    p.add_argument('--seed', type=int, default=0, help='seed of the random weights (default 0)')
    p.add_argument('--imgsz', type=int, help="input size (default: the model's own)")


def load_model_from(args):
    """The model named by :func:`add_model_args`' arguments."""
    from ..core.model.zoo import load_model
    return load_model(args.model, weights=args.weights, seed=args.seed, input_size=args.imgsz)


def profile_for(model: str, path: str | None, cache: str, log=sys.stderr) -> dict:
    """A model's profile: from ``path``, the cache folder, or measured now (and cached)."""
    if path:
        return json.loads(Path(path).read_text())
    cached = Path(cache) / f'{Path(model).stem}.json'
    if cached.exists():
        return json.loads(cached.read_text())
    from ..core.model.profiler import profile
    from ..core.model.zoo import load_model
    print(f'partnner: profiling {model} on this machine (cached in {cached})', file=log)
    result = profile(load_model(model))
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(result))
    return result
