"""``partnner demo``: the whole system on this machine, as real processes over DDS.

It starts the edge, cloud, partition manager and overlay nodes, waits until the
manager sees the cloud, then starts the camera source paced by results (the next
frame goes out when the previous one has an outcome, so nothing goes stale). It
shows live progress, and at the end prints a summary and writes the last overlay
image and a latency plot.
"""

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HELP = 'run camera, edge, cloud, manager and overlay as processes over DDS'


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('--frames', type=int, default=60, help='frames to run; 0: until Ctrl-C (default 60)')
    p.add_argument('--policy', default='partnner', help='partition policy: partnner (default), fixed, '
                                                        'edge_only, cloud_only, ans')
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


def run(args) -> int:
    if args.split is not None and args.policy != 'fixed':
        print('partnner demo: --split goes with --policy fixed', file=sys.stderr)
        return 2
    return run_demo(DemoOptions(
        frames=args.frames, policy=args.policy, split=args.split, model=args.model, weights=args.weights or '',
        codec=args.codec, source=args.source, threads=args.threads, namespace=args.namespace,
        out=Path(args.out), json=args.json))


@dataclass
class DemoOptions:
    frames: int = 60
    policy: str = 'partnner'
    split: int | None = None
    model: str = 'yolov8n'
    weights: str = ''
    codec: str = 'fp16+lz4'
    source: str = 'bundled'
    threads: int = 1
    namespace: str = '/partnner_demo'
    out: Path = Path('results/demo')
    startup_timeout: float = 120.0
    frame_timeout: float = 10.0
    json: bool = False


@dataclass
class FrameOutcome:
    seq: int
    status: int
    split: int
    e2e_ms: float
    edge_ms: float
    cloud_ms: float
    compute_ms: float
    codec_ms: float
    payload_bytes: int
    error: str = ''


@dataclass
class Observer:
    outcomes: dict = field(default_factory=dict)
    state: object = None
    overlay: object = None


def _summarise(opts: DemoOptions, obs: Observer, frames_in: int, model_note: str) -> dict:
    from ..core.adaptation.frames import Status
    outcomes = [obs.outcomes[k] for k in sorted(obs.outcomes)]
    ok = [o for o in outcomes if o.status == Status.OK]
    per_split = {}
    for k in sorted({o.split for o in ok}):
        at = [o for o in ok if o.split == k]
        per_split[str(k)] = {
            'frames': len(at),
            'e2e_mean_ms': float(np.mean([o.e2e_ms for o in at])),
            'edge_ms': float(np.mean([o.edge_ms for o in at])),
            'cloud_ms': float(np.mean([o.cloud_ms for o in at])),
            'compute_ms': float(np.mean([o.compute_ms for o in at])),
            'overhead_ms': float(np.mean([o.e2e_ms - o.compute_ms for o in at])),
            'codec_ms': float(np.mean([o.codec_ms for o in at])),
            'transfer_ms': float(np.mean([max(0.0, o.e2e_ms - o.edge_ms - o.cloud_ms) for o in at])),
            'payload_bytes': float(np.mean([o.payload_bytes for o in at])),
        }
    e2e = [o.e2e_ms for o in ok]
    count = {s: sum(1 for o in outcomes if o.status == s) for s in Status}
    return {
        'model': opts.model, 'weights': opts.weights or None, 'note': model_note, 'policy': opts.policy,
        'frames_in': frames_in, 'results_out': count[Status.OK], 'dropped': count[Status.DROPPED],
        'lost': count[Status.LOST], 'rejected': count[Status.REJECTED], 'failed': count[Status.FAILED],
        'no_outcome': max(0, frames_in - len(outcomes)),
        'per_split': per_split,
        'e2e_mean_ms': float(np.mean(e2e)) if e2e else None,
        'e2e_p95_ms': float(np.percentile(e2e, 95)) if e2e else None,
        'errors': sorted({o.error for o in outcomes if o.error}),
    }


def _write_outputs(opts: DemoOptions, obs: Observer, summary: dict) -> dict:
    import cv2
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from ..core.adaptation.frames import Status
    from ..nodes.image_conversion import image_to_rgb8
    opts.out.mkdir(parents=True, exist_ok=True)
    written = {}
    if obs.overlay is not None:
        path = opts.out / 'overlay.png'
        cv2.imwrite(str(path), cv2.cvtColor(image_to_rgb8(obs.overlay), cv2.COLOR_RGB2BGR))
        written['overlay_image'] = str(path)
    ok = [o for o in sorted(obs.outcomes.values(), key=lambda o: o.seq) if o.status == Status.OK]
    if ok:
        fig, ax = plt.subplots(figsize=(9, 4))
        seqs = [o.seq for o in ok]
        ax.plot(seqs, [o.e2e_ms for o in ok], '.-', label='end-to-end')
        ax.plot(seqs, [o.compute_ms for o in ok], '.', alpha=0.6, label='compute (edge + cloud)')
        ax.set_xlabel('frame')
        ax.set_ylabel('ms')
        ax2 = ax.twinx()
        ax2.step(seqs, [o.split for o in ok], where='post', color='tab:red', alpha=0.5, label='split')
        ax2.set_ylabel('split', color='tab:red')
        if obs.state is not None and obs.state.num_layers:
            ax2.set_ylim(-0.5, obs.state.num_layers + 0.5)
        ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{opts.model}, policy {opts.policy}: mean {summary['e2e_mean_ms']:.0f} ms, "
                     f"p95 {summary['e2e_p95_ms']:.0f} ms")
        ax.legend(loc='upper left')
        fig.tight_layout()
        path = opts.out / 'latency.png'
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written['latency_plot'] = str(path)
    path = opts.out / 'summary.json'
    path.write_text(json.dumps({**summary, **written}, indent=2))
    written['summary'] = str(path)
    return written


def run_demo(opts: DemoOptions) -> int:
    import rclpy
    from sensor_msgs.msg import Image

    from ..core.adaptation.frames import cloud_ms, edge_ms
    from ..msg import FrameTiming, PartitionState
    from ..nodes import qos
    from ..system.processes import log_tail, node_command, spawn, stop

    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    log = sys.stderr
    tty = log.isatty()
    log_dir = opts.out / 'logs'
    log_dir.mkdir(parents=True, exist_ok=True)
    model_params = {'model': opts.model, 'threads': opts.threads}
    if opts.weights:
        model_params['weights'] = opts.weights
    manager_params = {'policy': opts.policy}
    edge_params = {**model_params, 'codec': opts.codec}
    if opts.split is not None:
        manager_params['split'] = opts.split
        edge_params['split'] = opts.split
    procs = {}
    obs = Observer()
    rclpy.init()
    node = rclpy.create_node('demo', namespace=opts.namespace)
    clock = node.get_clock()

    def on_timing(msg):
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        obs.outcomes[msg.frame_seq] = FrameOutcome(
            msg.frame_seq, msg.status, msg.split, (clock.now().nanoseconds - stamp) / 1e6, edge_ms(msg),
            cloud_ms(msg), msg.edge_compute_ms + msg.cloud_compute_ms, msg.edge_encode_ms + msg.cloud_decode_ms,
            msg.payload_bytes, msg.error)

    timing_sub = node.create_subscription(FrameTiming, 'frame_timing', on_timing, qos.RESULTS)
    node.create_subscription(PartitionState, 'partition_state', lambda m: setattr(obs, 'state', m), qos.STATE)
    node.create_subscription(Image, 'overlay', lambda m: setattr(obs, 'overlay', m), qos.IMAGE_SUB)
    interrupted = False
    frames_in = 0
    try:
        for module, params in (('cloud', model_params), ('edge', edge_params),
                               ('partition_manager', manager_params), ('overlay', {})):
            procs[module] = spawn(node_command(module, opts.namespace, params), log_dir / f'{module}.log')
        print(f'demo: starting edge, cloud, partition manager and overlay ({opts.model}) in {opts.namespace}; '
              f'logs in {log_dir}', file=log)
        started = time.monotonic()
        deadline = started + opts.startup_timeout
        # ready: the manager sees the edge and a live cloud, and we hear both the edge's and the
        # cloud's frame records (a record published before discovery matched would be missed)
        while not (obs.state is not None and obs.state.num_layers and obs.state.cloud_alive
                   and timing_sub.get_publisher_count() >= 2):
            rclpy.spin_once(node, timeout_sec=0.1)
            dead = [k for k, p in procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f'{", ".join(dead)} exited' if dead else f'not ready after {opts.startup_timeout:.0f} s'
                tail = ''.join(log_tail(log_dir / f'{d}.log') for d in dead)
                print(f'demo: {why}. See {log_dir}.\n{tail}', file=log)
                return 1
        random_note = ('random weights: detections are meaningless; pass --weights FILE.pt for real ones'
                       if not opts.weights else f'weights from {opts.weights}')
        print(f'demo: ready after {time.monotonic() - started:.1f} s: {opts.model} ({random_note}), '
              f'{obs.state.num_layers} layers, policy {opts.policy}, split {obs.state.split}', file=log)
        procs['camera_source'] = spawn(node_command('camera_source', opts.namespace, {
            'source': opts.source, 'max_frames': opts.frames, 'pace_by_results': True, 'rate': 30.0,
            'pace_timeout': opts.frame_timeout, 'loop': True, 'min_subscribers': 2}), log_dir / 'camera_source.log')
        last_progress = time.monotonic()
        while opts.frames == 0 or len(obs.outcomes) < opts.frames:
            rclpy.spin_once(node, timeout_sec=0.05)
            done = len(obs.outcomes)
            if done != frames_in:
                frames_in, last_progress = done, time.monotonic()
                latest = obs.outcomes[max(obs.outcomes)]
                ok = [o.e2e_ms for o in obs.outcomes.values() if o.status == 0]
                line = (f'frames {done}/{opts.frames or "∞"} | split {latest.split:>3} | e2e last '
                        f'{latest.e2e_ms:7.1f} ms, mean {np.mean(ok) if ok else 0:7.1f} ms | '
                        f'lost {sum(o.status == 2 for o in obs.outcomes.values())}')
                if tty:
                    print(f'\r{line}', end='', file=log, flush=True)
                elif done % 10 == 0 or done == opts.frames:
                    print(line, file=log, flush=True)
            if time.monotonic() - last_progress > opts.frame_timeout + 5:
                print(f'{chr(10) * tty}demo: no frame finished for {opts.frame_timeout + 5:.0f} s; stopping', file=log)
                break
            dead = [k for k, p in procs.items() if p.poll() is not None and k != 'camera_source']
            if dead:
                print(f'{chr(10) * tty}demo: {", ".join(dead)} exited; see {log_dir}', file=log)
                break
        if tty:
            print(file=log)
    except KeyboardInterrupt:
        interrupted = True
        print('\ndemo: interrupted', file=log)
    finally:
        stop(procs.values())
        node.destroy_node()
        rclpy.try_shutdown()
    frames_in = opts.frames if opts.frames and not interrupted else len(obs.outcomes)
    note = 'random weights' if not opts.weights else f'weights from {opts.weights}'
    summary = _summarise(opts, obs, frames_in, note)
    written = _write_outputs(opts, obs, summary)
    if opts.json:
        print(json.dumps({**summary, **written}, indent=2))
    else:
        _print_summary(summary, written)
    return 0 if summary['results_out'] + summary['dropped'] == summary['frames_in'] else 1


def _print_summary(s: dict, written: dict) -> None:
    print(f"{s['model']} ({s['note']}), policy {s['policy']}: {s['frames_in']} frames in, "
          f"{s['results_out']} results out, {s['dropped']} dropped (stale), {s['lost']} lost, "
          f"{s['rejected']} rejected, {s['failed']} failed")
    if s['e2e_mean_ms'] is not None:
        print(f"end-to-end latency: mean {s['e2e_mean_ms']:.1f} ms, p95 {s['e2e_p95_ms']:.1f} ms")
    print(f"{'split':>5} {'frames':>6} {'e2e ms':>8} {'edge ms':>8} {'cloud ms':>8} {'compute':>8} "
          f"{'overhead':>8} {'codec':>6} {'transfer':>8} {'bytes':>9}")
    for k, v in s['per_split'].items():
        print(f"{k:>5} {v['frames']:>6} {v['e2e_mean_ms']:>8.1f} {v['edge_ms']:>8.1f} {v['cloud_ms']:>8.1f} "
              f"{v['compute_ms']:>8.1f} {v['overhead_ms']:>8.1f} {v['codec_ms']:>6.1f} {v['transfer_ms']:>8.1f} "
              f"{v['payload_bytes']:>9.0f}")
    print("edge/cloud ms: each side's own time;"
          ' compute: the model alone; overhead: e2e minus compute '
          '(pre/post-processing, codec, queues, DDS); codec: encode + decode; transfer: e2e minus both '
          'sides (DDS transport both ways)')
    for error in s['errors']:
        print(f'error seen: {error}')
    for what, path in written.items():
        print(f"{what.replace('_', ' ')} written to {path}")
