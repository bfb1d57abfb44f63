"""``partnner pipeline``: run a pipeline plan on this machine and measure its throughput.

Every stage of the plan (``partnner plan --json``) runs as its own node process:
the edge for the first block, a cloud node with ``stop`` for each middle block, and
a cloud node for the last. As root, each stage is held to its device's speed by a
CPU quota (speed 0.3: 0.3 of one core, as the plan's speeds are multiples of this
machine with one torch thread). The camera sends frames faster than the pipeline can
take them; throughput is the rate of results once it is full. The prediction is the
plan re-evaluated with a profile of this machine at one thread, on a link as fast as
loopback.
"""

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..system.processes import log_tail, node_command, spawn, stop

HELP = 'run a pipeline plan as stage nodes on this machine and measure its throughput against the prediction'
DESCRIPTION = ('Starts one node per stage of a plan (partnner plan --json), holds each to its '
               "device's speed with a CPU quota (root), feeds camera frames faster than the "
               'pipeline takes them, and compares the measured results per second with the '
               "plan's prediction on this machine.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('plan', help='a plan file: the output of partnner plan --json')
    p.add_argument('--algo', default='bnb', help='which plan in the file (default bnb)')
    p.add_argument('--duration', type=float, default=60.0, help='seconds of camera frames (default 60)')
    p.add_argument('--warmup', type=float, default=10.0, help='seconds of results not counted (default 10)')
    p.add_argument('--fps', type=float, default=30.0, help='camera rate, above the pipeline\'s (default 30)')
    p.add_argument('--codec', default='fp16+lz4', help='codec between stages (default fp16+lz4)')
    p.add_argument('--no-emulate-speeds', dest='emulate_speeds', action='store_false',
                   help='run every stage at full speed (no root needed)')
    p.add_argument('--out', default='results/pipeline', help='logs, per-frame CSV and pipeline.json')


def run(args) -> int:
    return run_pipeline(PipelineOptions(Path(args.plan), args.algo, args.duration, args.warmup, args.fps, args.codec,
                                        args.emulate_speeds, Path(args.out)))


@dataclass
class PipelineOptions:
    """What ``partnner pipeline`` runs: the plan file and algorithm, the camera's rate and duration, where to write."""

    plan: Path
    algo: str = 'bnb'
    duration: float = 60.0
    warmup: float = 10.0
    fps: float = 30.0
    codec: str = 'fp16+lz4'
    emulate_speeds: bool = True
    out: Path = Path('results/pipeline')
    namespace: str = '/partnner_pipeline'
    startup_timeout: float = 180.0


def predict(plan: dict, blocks, codec: str, log) -> dict:
    """The plan's bottleneck with this machine's one-thread profile and loopback links."""
    import torch

    from ..core.model.profiler import profile
    from ..core.model.zoo import load_model
    from ..core.multidevice.cluster import Cluster, Device
    from ..core.multidevice.costs import ModelCosts, layer_param_bytes
    from ..core.multidevice.plan import evaluate
    torch.set_num_threads(1)
    log(f'pipeline: profiling {plan["model"]} on one thread')
    model = load_model(plan['model'])
    input_codec = plan.get('input_codec') or codec
    costs = ModelCosts.from_profile(profile(model, sorted({codec, input_codec})), layer_param_bytes(model), codec,
                                    input_codec)
    names = [d['name'] for d in plan['devices']]
    devices = [Device(d['name'], d['speed']) for d in plan['devices']]
    cluster = Cluster(devices, np.full((len(devices), len(devices)), 1e12))
    predicted = evaluate(costs, cluster, [(names.index(dev), a, b) for dev, a, b in blocks])
    return {'bottleneck_ms': predicted.bottleneck_s * 1e3, 'throughput_fps': predicted.throughput_fps,
            'stage_compute_ms': [s.compute_s * 1e3 for s in predicted.stages]}


def run_pipeline(opts: PipelineOptions, log=None) -> int:
    """Run the plan's stages as node processes and compare their throughput with the prediction; the exit code."""
    from ..core.multidevice.stages import plan_blocks, stage_nodes
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    plan = json.loads(Path(opts.plan).read_text())
    _, blocks = plan_blocks(plan, opts.algo)
    nodes = stage_nodes(plan, opts.algo, opts.codec)
    speeds = {d['name']: float(d['speed']) for d in plan['devices']}
    if opts.emulate_speeds:
        why = _cannot_emulate({nd.device: speeds[nd.device] for nd in nodes})
        if why:
            log(f'pipeline: cannot emulate the device speeds: {why}. --no-emulate-speeds runs every stage '
                'at full speed')
            return 2
    else:
        plan = {**plan, 'devices': [{**d, 'speed': 1.0} for d in plan['devices']]}
    prediction = predict(plan, blocks, opts.codec, log)
    opts.out.mkdir(parents=True, exist_ok=True)
    folder = opts.out.resolve()
    code = _run_stages(opts, plan['model'], nodes, speeds, folder, log)
    if code:
        return code
    _report(opts, plan, nodes, speeds, prediction, measure(folder / 'frames.csv', opts.warmup), folder)
    return 0


def _cannot_emulate(speeds: dict[str, float]) -> str | None:
    """Why CPU quotas cannot hold the stages' devices (name: speed) to their speeds, or None when they can."""
    from ..testbed import cpu_quota
    why = cpu_quota.unavailable()
    if why is None and max(speeds.values()) > 1:
        why = 'a stage runs on one thread, so its device speed can be at most 1'
    if why is None and sum(speeds.values()) > (os.cpu_count() or 1) - 0.25:
        why = f'the stages need {sum(speeds.values()):.2f} CPUs together; this machine has {os.cpu_count()}'
    return why


def _run_stages(opts: PipelineOptions, model: str, nodes, speeds: dict[str, float], folder: Path, log) -> int:
    """Start every process, feed the camera for the run's duration and stop them all; 0, or the exit code."""
    from ..testbed import cpu_quota
    (folder / 'ready').unlink(missing_ok=True)
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    procs, quotas = {}, []
    try:
        _spawn_stages(opts, model, nodes, folder, procs)
        log(f'pipeline: {len(nodes)} stages: ' + ', '.join(
            f'{nd.name} on {nd.device} (layers {nd.start}..{nd.stop - 1}, speed {speeds[nd.device]:g})'
            for nd in nodes))
        if not _wait_ready(procs, folder, opts.startup_timeout, log):
            return 1
        if opts.emulate_speeds:
            for nd in nodes:
                quota = cpu_quota.CpuQuota(f'pipeline-{nd.name}', speeds[nd.device])
                quotas.append(quota)
                quota.add(procs[nd.name].pid)
        procs['camera_source'] = spawn(node_command('camera_source', opts.namespace, {
            'rate': opts.fps, 'min_subscribers': 2, 'max_frames': int(opts.fps * opts.duration)}),
            folder / 'camera_source.log')
        log(f'pipeline: running {opts.duration:.0f} s at {opts.fps:g} fps')
        time.sleep(opts.duration + 2)
    except KeyboardInterrupt:
        log('pipeline: interrupted')
        return 130
    finally:
        stop(procs.values())
        for quota in quotas:
            quota.close()
    return 0


def _spawn_stages(opts: PipelineOptions, model: str, nodes, folder: Path, procs: dict) -> None:
    """Start the stage nodes, partition manager and observer, each into ``procs`` at once so a failure stops them."""
    params = {'model': model, 'threads': 1}
    for nd in nodes:
        argv = node_command(nd.kind, opts.namespace, {**params, **nd.params})
        argv += ['-r', f'__node:={nd.name}'] + [x for k, v in nd.remappings.items() for x in ('-r', f'{k}:={v}')]
        procs[nd.name] = spawn(argv, folder / f'{nd.name}.log')
    procs['partition_manager'] = spawn(node_command('partition_manager', opts.namespace, {
        'policy': 'fixed', 'split': nodes[0].stop}), folder / 'partition_manager.log')
    procs['observer'] = spawn(node_command('testbed.observer', opts.namespace, {'out': str(folder)}),
                              folder / 'observer.log')


def _wait_ready(procs: dict, folder: Path, timeout: float, log) -> bool:
    """Wait for the observer's ``ready`` file; False, with the log tails, when a process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not (folder / 'ready').exists():
        dead = [k for k, p in procs.items() if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            log(f'pipeline: {", ".join(dead) + " exited" if dead else "not ready in time"}\n'
                + ''.join(log_tail(folder / f'{d}.log') for d in dead))
            return False
        time.sleep(0.2)
    return True


def _report(opts: PipelineOptions, plan: dict, nodes, speeds: dict[str, float], prediction: dict, measured: dict,
            folder: Path) -> None:
    """Write pipeline.json and print measured against predicted throughput."""
    result = {'plan': str(opts.plan), 'algo': opts.algo, 'model': plan['model'], 'codec': opts.codec,
              'stages': [{'name': nd.name, 'device': nd.device, 'layers': [nd.start, nd.stop],
                          'speed': speeds[nd.device]} for nd in nodes],
              'plan_predicted': {k: plan['plans'][opts.algo]['plan'][k] for k in ('bottleneck_ms', 'throughput_fps')},
              'predicted': prediction, 'measured': measured,
              'measured_over_predicted': measured['throughput_fps'] / prediction['throughput_fps']}
    (folder / 'pipeline.json').write_text(json.dumps(result, indent=1))
    print(f"{plan['model']}, {len(nodes)} stages ({opts.algo} plan): predicted {prediction['throughput_fps']:.2f} "
          f"frames/s (bottleneck {prediction['bottleneck_ms']:.0f} ms), measured {measured['throughput_fps']:.2f} "
          f"frames/s over {measured['seconds']:.0f} s ({measured['results']} results): "
          f"{result['measured_over_predicted']:.2f}x the prediction (the plan file, with its own profile, "
          f"predicted {result['plan_predicted']['throughput_fps']:.2f} frames/s); "
          f"written to {folder / 'pipeline.json'}")


def measure(frames_csv: Path, warmup: float) -> dict:
    """Results per second after ``warmup`` seconds of results (the pipeline filling up)."""
    import csv
    with open(frames_csv, newline='') as f:
        arrivals = sorted(int(r['arrival_ns']) / 1e9 for r in csv.DictReader(f) if r['status'] == '0')
    if len(arrivals) < 2:
        return {'throughput_fps': math.nan, 'results': len(arrivals), 'seconds': 0.0}
    window = [t for t in arrivals if t >= arrivals[0] + warmup] or arrivals
    seconds = window[-1] - window[0]
    return {'throughput_fps': (len(window) - 1) / seconds if seconds > 0 else math.nan,
            'results': len(window), 'seconds': seconds}
