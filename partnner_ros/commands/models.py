"""``partnner models``: the built-in models."""

import argparse
import json

HELP = 'list the built-in models'


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('--json', action='store_true')


def run(args) -> int:
    from ..core.model.zoo import ZOO
    if args.json:
        print(json.dumps([vars(s) for s in ZOO.values()], indent=2))
        return 0
    width = max(len(n) for n in ZOO)
    for spec in ZOO.values():
        print(f'{spec.name:<{width}}  {spec.task:<8}  {spec.input_size:>4}px  {spec.description}')
    print('\nAlso: any torchvision classifier by name, or an ultralytics .pt/.yaml path.')
    return 0
