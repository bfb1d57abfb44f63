"""``partnner demo``: the whole system on this machine, as real processes over DDS.

It starts the camera source (paused), edge, cloud, partition manager and overlay
nodes, waits until the manager sees the cloud and the edge has matched the camera,
then releases the camera, paced by results (the next frame goes out when the
previous one has an outcome, so nothing goes stale). It shows live progress, and at
the end prints a summary and writes the last overlay image and a latency plot.
"""

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

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
    p.add_argument('--record', metavar='FILE', help='also record the run to this MCAP file (see partnner replay)')


def run(args) -> int:
    if args.split is not None and args.policy != 'fixed':
        print('partnner demo: --split goes with --policy fixed', file=sys.stderr)
        return 2
    return run_demo(DemoOptions(
        frames=args.frames, policy=args.policy, split=args.split, model=args.model, weights=args.weights or '',
        codec=args.codec, source=args.source, threads=args.threads, namespace=args.namespace,
        out=Path(args.out), json=args.json, record=args.record or ''))


@dataclass
class DemoOptions:
    """What ``partnner demo`` runs: its command-line options."""

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
    record: str = ''  # an MCAP file to record the run to


def _summarise(opts: DemoOptions, ledger, frames_in: int, model_note: str, camera_unanswered: int) -> dict:
    from ..core.adaptation.frames import Status
    latency = ledger.latency()
    count = ledger.counts
    return {
        'model': opts.model, 'weights': opts.weights or None, 'note': model_note, 'policy': opts.policy,
        'frames_in': frames_in, 'results_out': count[Status.OK], 'dropped': count[Status.DROPPED],
        'lost': count[Status.LOST], 'rejected': count[Status.REJECTED], 'failed': count[Status.FAILED],
        'no_outcome': max(0, frames_in - len(ledger)), 'camera_unanswered': camera_unanswered,
        'probes': ledger.probes,
        'probe_server_share': ledger.probe_spend.server_share,
        'probe_uplink_mbps': ledger.probe_spend.bits_per_s / 1e6,
        'per_split': {str(k): asdict(v) for k, v in ledger.per_split().items()},
        'e2e_mean_ms': latency[0] if latency else None,
        'e2e_p95_ms': latency[1] if latency else None,
        'errors': ledger.errors(),
    }


def _write_outputs(opts: DemoOptions, ledger, state, overlay, summary: dict) -> dict:
    import cv2

    from ..nodes.image_conversion import image_to_rgb8
    opts.out.mkdir(parents=True, exist_ok=True)
    written = {}
    if overlay is not None:
        path = opts.out / 'overlay.png'
        cv2.imwrite(str(path), cv2.cvtColor(image_to_rgb8(overlay), cv2.COLOR_RGB2BGR))
        written['overlay_image'] = str(path)
    ok = ledger.ok()
    if ok:
        path = opts.out / 'latency.png'
        _plot_latency(opts, ok, state.num_layers if state is not None else 0, summary, path)
        written['latency_plot'] = str(path)
    if opts.record:
        written['recording'] = opts.record
    path = opts.out / 'summary.json'
    path.write_text(json.dumps({**summary, **written}, indent=2))
    written['summary'] = str(path)
    return written


def _plot_latency(opts: DemoOptions, ok: list, num_layers: int, summary: dict, path: Path) -> None:
    """End-to-end and compute latency of every frame served, with its split."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    fig, ax = plt.subplots(figsize=(9, 4))
    seqs = [r.seq for r in ok]
    ax.plot(seqs, [r.e2e_ms for r in ok], '.-', label='end-to-end')
    ax.plot(seqs, [r.edge_compute_ms + r.cloud_compute_ms for r in ok], '.', alpha=0.6,
            label='compute (edge + cloud)')
    ax.set_xlabel('frame')
    ax.set_ylabel('ms')
    ax2 = ax.twinx()
    ax2.step(seqs, [r.split for r in ok], where='post', color='tab:red', alpha=0.5, label='split')
    ax2.set_ylabel('split', color='tab:red')
    if num_layers:
        ax2.set_ylim(-0.5, num_layers + 0.5)
    ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{opts.model}, policy {opts.policy}: mean {summary['e2e_mean_ms']:.0f} ms, "
                 f"p95 {summary['e2e_p95_ms']:.0f} ms")
    ax.legend(loc='upper left')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _node_params(opts: DemoOptions) -> list[tuple[str, dict]]:
    model = {'model': opts.model, 'threads': opts.threads}
    if opts.weights:
        model['weights'] = opts.weights
    manager = {'policy': opts.policy}
    edge = {**model, 'codec': opts.codec}
    if opts.split is not None:
        manager['split'] = opts.split
        edge['split'] = opts.split
    recorder = [('recorder', {'out': str(Path(opts.record).absolute())})] if opts.record else []
    # paused until the edge has matched it, paced by results: the next frame goes when the last has an outcome
    camera = {'source': opts.source, 'max_frames': opts.frames, 'pace_by_results': True, 'rate': 30.0,
              'pace_timeout': opts.frame_timeout, 'loop': True, 'min_subscribers': 2, 'paused': True}
    return recorder + [('cloud', model), ('edge', edge), ('partition_manager', manager), ('overlay', {}),
                       ('camera_source', camera)]


def run_demo(opts: DemoOptions) -> int:
    import rclpy
    from sensor_msgs.msg import Image

    from ..nodes import qos
    from ..system.session import Session, SessionError

    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    log = sys.stderr
    log_dir = opts.out / 'logs'
    rclpy.init()
    session = Session(opts.namespace, log_dir, node_name='demo', log_level='warn')
    overlay = []
    session.node.create_subscription(Image, 'overlay', overlay.append, qos.IMAGE_SUB)
    interrupted, unanswered = False, 0
    try:
        for module, params in _node_params(opts):
            session.start(module, params)
        print(f'demo: starting camera, edge, cloud, partition manager and overlay ({opts.model}) in '
              f'{opts.namespace}; logs in {log_dir}', file=log)
        started = time.monotonic()
        session.wait_ready(opts.startup_timeout, camera=True)
        state = session.watch.state
        random_note = ('random weights: detections are meaningless; pass --weights FILE.pt for real ones'
                       if not opts.weights else f'weights from {opts.weights}')
        print(f'demo: ready after {time.monotonic() - started:.1f} s: {opts.model} ({random_note}), '
              f'{state.num_layers} layers, policy {opts.policy}, split {state.split}', file=log)
        session.set_params('camera_source', paused=False)
        _follow_frames(opts, session, log)
        unanswered = int(session.watch.value('frames_unanswered', 'camera_source') or 0)
    except SessionError as e:
        print(f'demo: {e}', file=log)
        return 1
    except KeyboardInterrupt:
        interrupted = True
        print('\ndemo: interrupted', file=log)
    finally:
        session.close()
        rclpy.try_shutdown()
    ledger = session.watch.ledger
    # a frame answered after the camera gave up on it (pace_timeout) comes on top of --frames
    frames_in = max(opts.frames, len(ledger)) if opts.frames and not interrupted else len(ledger)
    note = 'random weights' if not opts.weights else f'weights from {opts.weights}'
    summary = _summarise(opts, ledger, frames_in, note, unanswered)
    written = _write_outputs(opts, ledger, session.watch.state, overlay[-1] if overlay else None, summary)
    if opts.json:
        print(json.dumps({**summary, **written}, indent=2))
    else:
        _print_summary(summary, written)
    return 0 if summary['results_out'] + summary['dropped'] == summary['frames_in'] else 1


def _follow_frames(opts: DemoOptions, session, log) -> None:
    """Spin until every frame has an outcome, showing progress; stop early if frames stop
    finishing or a node exits.
    """
    from ..core.adaptation.frames import Status
    ledger, tty = session.watch.ledger, log.isatty()
    seen, last_progress = 0, time.monotonic()
    while opts.frames == 0 or len(ledger) < opts.frames:
        session.spin_for(0.05)
        done = len(ledger)
        if done != seen:
            seen, last_progress = done, time.monotonic()
            latest = next(reversed(ledger.frames.values()))
            latency = ledger.latency()
            line = (f'frames {done}/{opts.frames or "∞"} | split {latest.split:>3} | e2e last '
                    f'{latest.e2e_ms:7.1f} ms, mean {latency[0] if latency else 0:7.1f} ms | '
                    f'lost {ledger.counts[Status.LOST]}')
            if tty:
                print(f'\r{line}', end='', file=log, flush=True)
            elif done % 10 == 0 or done == opts.frames:
                print(line, file=log, flush=True)
        if time.monotonic() - last_progress > opts.frame_timeout + 5:
            print(f'{chr(10) * tty}demo: no frame finished for {opts.frame_timeout + 5:.0f} s; stopping', file=log)
            break
        dead = [k for k, p in session.procs.items() if p.poll() is not None and k != 'camera_source']
        if dead:
            print(f'{chr(10) * tty}demo: {", ".join(dead)} exited; see {session.log_dir}', file=log)
            break
    if tty:
        print(file=log)


def _print_summary(s: dict, written: dict) -> None:
    print(f"{s['model']} ({s['note']}), policy {s['policy']}: {s['frames_in']} frames in, "
          f"{s['results_out']} results out, {s['dropped']} dropped (stale), {s['lost']} lost, "
          f"{s['rejected']} rejected, {s['failed']} failed")
    if s['camera_unanswered']:
        print(f"camera frames with no outcome within the pace timeout, replaced: {s['camera_unanswered']} "
              '(the camera topic is best effort; see the camera_source log)')
    if s['e2e_mean_ms'] is not None:
        print(f"end-to-end latency: mean {s['e2e_mean_ms']:.1f} ms, p95 {s['e2e_p95_ms']:.1f} ms")
    print(f"shadow probes: {s['probes']}, {s['probe_server_share']:.1%} of the server's time, "
          f"{s['probe_uplink_mbps']:.2f} Mbit/s of the uplink")
    print(f"{'split':>5} {'frames':>6} {'e2e ms':>8} {'edge ms':>8} {'cloud ms':>8} {'compute':>8} "
          f"{'overhead':>8} {'codec':>6} {'transfer':>8} {'bytes':>9}")
    for k, v in s['per_split'].items():
        print(f"{k:>5} {v['frames']:>6} {v['e2e_ms']:>8.1f} {v['edge_ms']:>8.1f} {v['cloud_ms']:>8.1f} "
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
