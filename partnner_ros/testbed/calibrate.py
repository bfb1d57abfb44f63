"""Profile a model inside a testbed host: ``python -m partnner_ros.testbed.calibrate
MODEL OUT.json [--codec C ...]``. It loads the model, says ``loaded`` on stdout and
waits for a line on stdin before measuring, so the bench can first put it under the
host's CPU quota (loading at a tenth of a core would take minutes)."""

import argparse
import json
import sys
from pathlib import Path

import torch

from ..core.models import load_model
from ..core.profiler import profile


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('model')
    parser.add_argument('out')
    parser.add_argument('--weights')
    parser.add_argument('--codec', action='append', required=True)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model(args.model, weights=args.weights)
    print('loaded', flush=True)
    sys.stdin.readline()
    Path(args.out).write_text(json.dumps(profile(model, args.codec, repeats=args.repeats)))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
