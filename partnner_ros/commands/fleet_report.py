"""``partnner fleet --out DIR``: the tables as report.md and report.json, and per mode a figure of every
robot's latency and split over time and every server's queue and price.
"""

import json
import textwrap
from pathlib import Path


def write_report(out: Path, title: str, rows: dict, runs: dict, table: str) -> Path:
    """Write report.md, report.json and one figure per simulated mode into ``out``; returns report.md's path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / 'report.json').write_text(json.dumps({'title': title, 'modes': rows}, indent=1))
    figures = []
    for mode, run in runs.items():
        path = out / f'{mode}.png'
        plot_run(run, f'{title}: {mode}', path)
        figures.append(f'![{mode}]({path.name})')
    text = f'# partnner fleet\n\n{title}\n\n```\n{table}\n```\n\n' + '\n\n'.join(figures) + '\n'
    (out / 'report.md').write_text(text)
    return out / 'report.md'


def plot_run(run, title: str, path: Path) -> None:
    """Latency and split of every robot over time, and each server's queue depth and price."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (lat, split, queue) = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    for r in run.robots:
        lat.plot(r.start, r.latency, lw=0.7, label=r.name)
        split.step(r.start, r.split, where='post', lw=0.7)
    lat.set_ylabel('latency, ms')
    split.set_ylabel('split (0: cloud-only)')
    if len(run.robots) <= 10:
        lat.legend(fontsize=7, ncol=5)
    price = queue.twinx()
    for name, rows in run.server_trace.items():
        queue.plot(rows[:, 0], rows[:, 1], lw=0.8, label=f'{name} queue')
        price.plot(rows[:, 0], rows[:, 3], lw=0.8, ls='--', label=f'{name} price')
    queue.set_ylabel('requests queued')
    price.set_ylabel('price, ms per ms of work (dashed)')
    price.set_yscale('log')
    queue.set_xlabel('time, s')
    queue.legend(fontsize=7, loc='upper left')
    fig.suptitle(textwrap.fill(title, 130), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_live(out: Path, robots: list[str], title: str) -> Path:
    """A live fleet's figure from its robots' observer records: latency and split per robot over time, and the
    server's queue wait and price as each robot's manager last heard them.
    """
    import csv

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    fig, (lat, split, wait) = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    t0 = None
    for robot in robots:
        with open(out / robot / 'frames.csv') as f:
            ok = [r for r in csv.DictReader(f) if r['status'] == '0']
        with open(out / robot / 'states.csv') as f:
            states = list(csv.DictReader(f))
        stamps = np.array([int(r['stamp_ns']) for r in ok] + [int(s['time_ns']) for s in states])
        t0 = stamps.min() if t0 is None and len(stamps) else t0
        t = (np.array([int(r['stamp_ns']) for r in ok]) - t0) / 1e9
        lat.plot(t, [float(r['e2e_ms']) for r in ok], lw=0.7, label=robot)
        split.step(t, [int(r['split']) for r in ok], where='post', lw=0.7)
        wait.plot((np.array([int(s['time_ns']) for s in states]) - t0) / 1e9,
                  [float(s['server_wait_ms']) for s in states], lw=0.7)
    lat.set_ylabel('latency, ms')
    split.set_ylabel('split (0: cloud-only)')
    wait.set_ylabel('server queue wait, ms')
    wait.set_xlabel('time, s')
    lat.legend(fontsize=7, ncol=5)
    fig.suptitle(textwrap.fill(title, 130), fontsize=9)
    fig.tight_layout()
    path = out / 'fleet.png'
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
