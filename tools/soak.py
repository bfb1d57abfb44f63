"""Soak: the whole system (camera, edge, cloud, partition manager with partnner, overlay) runs for a
long while; every node's resident memory is sampled, and every camera frame must have an outcome.
Prints each node's RSS after the warm-up and at the end, its growth and slope, and the accounting.
Exits 1 when a node grows past --max-growth-mb after the warm-up, a node dies, or frames go missing.

    ./run python tools/soak.py [--minutes 15] [--fps 5] [--model yolov8n] [--warmup 60]
"""

import argparse
import json
import os
import signal
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import rclpy
from sensor_msgs.msg import Image

from partnner_ros.core.adaptation.frames import Status
from partnner_ros.nodes import qos
from partnner_ros.system.session import Session, SessionError

NODES = ('cloud', 'edge', 'partition_manager', 'overlay', 'camera_source')


def rss_mb(proc) -> float:
    """Resident MB of a node's process and its children (a node runs under its launcher)."""
    try:
        p = psutil.Process(proc.pid)
        return sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]) / 2**20
    except psutil.NoSuchProcess:
        return float('nan')


def main() -> int:
    """Run the soak and print the figures; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--minutes', type=float, default=15.0)
    parser.add_argument('--fps', type=float, default=5.0)
    parser.add_argument('--model', default='yolov8n')
    parser.add_argument('--warmup', type=float, default=60.0, help='seconds before the baseline sample')
    parser.add_argument('--sample', type=float, default=10.0, help='seconds between samples')
    parser.add_argument('--max-growth-mb', type=float, default=25.0)
    args = parser.parse_args()
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    folder = Path(tempfile.mkdtemp(prefix='soak_'))
    rclpy.init()
    session = Session(f'/soak_{os.getpid()}', folder, node_name='soak', log_level='warn')
    samples: list[tuple[float, list[float]]] = []
    images = []  # every camera frame, counted (raw: not decoded)
    session.node.create_subscription(Image, 'image_raw', lambda data: images.append(len(data)), qos.RESULTS, raw=True)
    try:
        model = {'model': args.model, 'threads': 1}
        for module, params in (('cloud', model), ('edge', model), ('partition_manager', {'policy': 'partnner'}),
                               ('overlay', {})):
            session.start(module, params)
        session.wait_ready(300.0)
        session.start('camera_source', {'source': 'bundled', 'rate': args.fps, 'loop': True, 'min_subscribers': 2})
        started = time.monotonic()
        end = started + args.minutes * 60
        while time.monotonic() < end:
            session.spin_for(args.sample)
            samples.append((time.monotonic() - started, [rss_mb(session.procs[n]) for n in NODES]))
        session.kill('camera_source', sig=signal.SIGINT)
        session.spin_for(15.0)  # the last frames' outcomes (the result timeout is 2 s)
        alive = {n: session.procs[n].poll() is None for n in NODES if n in session.procs}
    except SessionError as e:
        print(f'soak: {e}')
        return 1
    finally:
        session.close()
        rclpy.try_shutdown()
    return report(args, samples, session, alive, len(images), folder)


def report(args, samples, session, alive: dict, sent: int, folder: Path) -> int:
    """Print the memory and accounting figures; 0 when they pass."""
    t = np.array([s for s, _ in samples])
    rss = np.array([r for _, r in samples])
    base = int(np.searchsorted(t, args.warmup))
    figures, ok = {}, all(alive.values())
    for i, name in enumerate(NODES):
        after = rss[base:, i]
        slope = float(np.polyfit(t[base:] / 60, after, 1)[0]) if len(after) > 2 else float('nan')
        growth = float(after[-1] - after[0])
        figures[name] = {'rss_mb_after_warmup': round(float(after[0]), 1), 'rss_mb_end': round(float(after[-1]), 1),
                         'growth_mb': round(growth, 1), 'slope_mb_per_min': round(slope, 2)}
        ok &= growth <= args.max_growth_mb
    ledger = session.watch.ledger
    counts = {s.name.lower(): ledger.counts[s] for s in Status}
    ok &= sum(counts.values()) == sent > 0
    summary = {'minutes': args.minutes, 'fps': args.fps, 'model': args.model, 'nodes_alive': alive,
               'memory': figures, 'camera_frames': sent, 'outcomes': counts, 'logs': str(folder),
               'passed': bool(ok)}
    print(json.dumps(summary, indent=1))
    return 0 if ok else 1


if __name__ == '__main__':
    raise SystemExit(main())
