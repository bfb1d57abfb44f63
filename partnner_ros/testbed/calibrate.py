"""Profile a model inside a testbed host: ``python -m partnner_ros.testbed.calibrate
MODEL OUT.json [--codec C ...]``. It loads the model, says ``loaded`` on stdout and
waits for a line on stdin before measuring, so the bench can first put it under the
host's CPU quota (loading at a tenth of a core would take minutes).

Under a quota, a short layer mostly runs inside one slice and now and then waits
out a throttled period, so per-layer medians miss most of the throttling and their
sum underestimates the model. The whole forward pass is timed too, and the layer,
pre- and postprocessing times are scaled to add up to it.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from ..core.model.profiler import model_input, profile
from ..core.model.zoo import load_model


def main(argv=None) -> int:
    """Command-line entry (see the module doc): write the quota-scaled profile to OUT; returns the exit code 0."""
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
    result = profile(model, args.codec, repeats=args.repeats, fidelity=False)  # machine-independent
    scale = forward_ms(model, args.repeats) / result['total_ms']
    for layer in result['layers']:
        layer['ms'] *= scale
    for cut in result['cuts']:
        cut['edge_ms'] *= scale
        cut['cloud_ms'] *= scale
    for key in ('total_ms', 'preprocess_ms', 'postprocess_ms'):
        result[key] *= scale
    result['layer_ms_scale'] = scale
    Path(args.out).write_text(json.dumps(result))
    return 0


@torch.inference_mode()
def forward_ms(model, repeats: int) -> float:
    """Median wall time of whole forward passes, after one to warm up."""
    x = model_input(model)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        model.forward(x)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times[1:])


if __name__ == '__main__':
    code = main()
    sys.stdout.flush()
    # Skip the interpreter's teardown: under the robot's quota its garbage collection of torch's
    # objects took minutes after the profile was written (the bench waited on it past its deadline).
    os._exit(code)
