"""``partnner replay --plot``: the recording and each replayed policy over time."""

from pathlib import Path

import numpy as np


def plot_replay(rec, cond, runs: dict, out: Path) -> Path:
    """Latency and split of the recording and of every replayed policy, the link's extracted rate with
    the recorded policy's bandwidth estimate, and each side's speed with its model-time estimates; one
    figure, ``replay.png`` in ``out``. Returns its path.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    out.mkdir(parents=True, exist_ok=True)
    fig, (lat, split, link, speed) = plt.subplots(4, 1, figsize=(11, 11), sharex=True)
    for name, run in runs.items():
        style = dict(color='k', lw=1.2) if name == 'live' else dict(lw=0.7)
        lat.plot(run.start, run.latency, label=f'{run.policy} ({run.mean:.0f} ms)', **style)
        split.step(run.start, run.split, where='post', **style)
    lat.set_ylabel('latency, ms')
    lat.set_yscale('log')
    lat.legend(fontsize=7, ncol=3)
    split.set_ylabel(f'split (0: cloud-only, {cond.num_layers}: edge-only)')
    states = [((m.log_ns - cond.t0_ns) / 1e9, m.msg) for m in rec.of('partition_state')]
    t = np.linspace(0, cond.duration_s, 800)
    link.plot(t, cond.trace.rate_at(t) / 1e6, lw=0.8, label='extracted from the transfers')
    if states:
        link.plot([s for s, _ in states], [m.bandwidth_bps / 1e6 for _, m in states], lw=0.8,
                  label=f'{cond.policy} estimate')
    link.set_ylabel('link, Mbit/s')
    link.legend(fontsize=7)
    for name, factor, load in (('robot', cond.edge_factor, cond.edge_load), ('server', cond.cloud_factor,
                                                                           cond.cloud_load)):
        if np.isfinite(factor):
            speed.step(t, factor * load.at(t), where='post', lw=0.8, label=f'{name}: x this machine')
    speed.set_ylabel('model time, x profile')
    speed.set_xlabel('s from the first frame')
    speed.legend(fontsize=7)
    fig.suptitle(f'{cond.model} replayed from {rec.path.name}')
    fig.tight_layout()
    path = out / 'replay.png'
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path

