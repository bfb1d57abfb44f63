"""The bench report: live figures per policy against the live oracle, the targets,
the simulator's prediction of the same scenario, and the plots.
"""

import json
from pathlib import Path

import numpy as np

from ..core.simulation.scenario import Platform, Scenario, SimProfile
from ..core.simulation.simulator import run_all, simulate, simulate_fixed
from ..core.simulation.traces import Steps, Trace
from .analysis import LiveRun, convergence, live_oracle, overhead, segment_edges, segment_means

SIM_NAMES = ('partnner', 'edge_only', 'cloud_only', 'neurosurgeon', 'ans')
# fixed splits the simulated oracle uses for at least this share of frames are run live
ORACLE_SHARE = 0.02
MAX_AUTO_SPLITS = 6


def manager_params(label: str) -> dict:
    """``fixed:K`` or a policy name, as partition manager parameters."""
    if label.startswith('fixed:'):
        return {'policy': 'fixed', 'split': int(label.split(':', 1)[1])}
    return {'policy': label}


def scenario(opts, calibration, trace: Trace, platform: Platform | None = None) -> Scenario:
    """The bench's scenario in the simulator: the server's profile, the robot as the
    calibrated multiple of it (or ``platform``), the same trace, camera rate and server load.
    """
    server = json.loads(Path(calibration.server_profile).read_text())
    profile = SimProfile.from_profile(server, opts.codec, 'jpeg')
    return Scenario(profile, platform or Platform('calibrated', calibration.ratio), trace, fps=opts.fps,
                    cloud_load=Steps.parse(opts.cloud_load), delay_ms=opts.delay_ms, duration_s=opts.duration)


def in_run_platform(runs: dict[str, LiveRun], profile: SimProfile) -> Platform:
    """Each side's speed while the system runs, against the server's calibration profile:
    the median over frames of the measured compute over the profiled compute of the
    layers that side ran. On the robot this includes what the nodes' own work (intake,
    executors, the manager) takes from the model under the quota.
    """
    cum = np.concatenate([[0.0], np.cumsum(profile.layer_ms)])
    n = profile.space.num_layers
    edge, cloud = [], []
    for run in runs.values():
        f = {k: v[run.ok] for k, v in run.frames.items() if isinstance(v, np.ndarray)}
        k = f['split'].astype(int)
        head, tail = cum[k], cum[n] - cum[k]
        # sides that ran at least a tenth of the model, so timer noise does not dominate
        on_edge, on_cloud = head > 0.1 * cum[n], (tail > 0.1 * cum[n]) & (k < n)
        edge += list(f['edge_compute_ms'][on_edge] / head[on_edge])
        cloud += list(f['cloud_compute_ms'][on_cloud] / tail[on_cloud])
    if not edge or not cloud:
        return Platform('in-run', float('nan'))
    return Platform('in-run', float(np.median(edge)), 1.0 / float(np.median(cloud)))


def candidate_splits(opts, calibration, trace: Trace, runs: list[Path]) -> list[int]:
    """Fixed splits to run for the live oracle, beyond cloud-only and edge-only (run as policies)."""
    if opts.oracle == 'none':
        return []
    sc = scenario(opts, calibration, trace)
    n = sc.profile.space.num_layers
    if opts.oracle == 'all':
        wanted = sorted(sc.profile.space.splits)
    elif opts.oracle == 'auto':
        chosen = simulate(sc, 'oracle').split
        ks, counts = np.unique(chosen, return_counts=True)
        live = [run for run in map(LiveRun.load, runs) if run.label == 'partnner']
        used = {}
        for run in live:
            k, c = np.unique(run.splits()[1], return_counts=True)
            used.update(zip(k.tolist(), (c / max(1, c.sum())).tolist()))
        share = {int(k): c / counts.sum() for k, c in zip(ks, counts)}
        for k, s in used.items():
            share[int(k)] = max(share.get(int(k), 0.0), s)
        wanted = sorted(k for k, s in sorted(share.items(), key=lambda kv: -kv[1])[:MAX_AUTO_SPLITS]
                        if s >= ORACLE_SHARE)
    else:
        wanted = [int(k) for k in opts.oracle.split(',')]
        bad = [k for k in wanted if k not in sc.profile.space.splits]
        if bad:
            raise ValueError(f'--oracle splits {bad} are not usable splits of {opts.model} (0..{n})')
    covered = {'cloud_only': 0, 'edge_only': n}
    done = {covered[label] for label in (LiveRun.load(r).label for r in runs) if label in covered}
    return [k for k in wanted if k not in done]


def _fixed_runs(runs: dict[str, LiveRun]) -> dict[int, LiveRun]:
    fixed = {}
    for label, run in runs.items():
        if label.startswith('fixed:'):
            fixed[int(label.split(':')[1])] = run
        elif label in ('cloud_only', 'edge_only'):
            fixed[0 if label == 'cloud_only' else run.meta['num_layers']] = run
    return fixed


def analyse(opts, calibration, trace: Trace, folders: list[Path]) -> dict:
    """The bench report data (JSON-ready): per run its latency, accounting, overhead and convergence,
    against the live oracle and the simulator on the same trace.
    """
    runs = {run.label: run for run in map(LiveRun.load, folders)}
    edges = segment_edges(trace, opts.duration, opts.segment)
    fixed = _fixed_runs(runs)
    oracle = live_oracle(fixed, edges) if fixed else None
    changes = trace.change_points(duration=opts.duration)
    sc = scenario(opts, calibration, trace)
    live_platform = in_run_platform(runs, sc.profile)
    sims = {}
    for key, s in (('sim', sc), ('sim_in_run', scenario(opts, calibration, trace, live_platform))):
        if not np.isfinite(s.platform.edge_slowdown):
            continue
        sim = run_all(s, [p for p in SIM_NAMES if p in runs])
        fixed_labels = sorted(fixed)
        for k, r in zip(fixed_labels, simulate_fixed(s, fixed_labels)):
            sim[f'fixed:{k}'] = r
        sim['oracle'] = simulate(s, 'oracle')
        sims[key] = sim
    rows = {}
    for label, run in runs.items():
        t, e2e = run.e2e()
        row = {'label': label, 'frames': len(e2e), 'mean_ms': run.mean_ms,
               'p95_ms': float(np.percentile(e2e, 95)) if len(e2e) else None,
               'accounting': run.accounting(), 'overhead': overhead(run, trace, opts.delay_ms),
               'splits': {int(k): int(c) for k, c in zip(*np.unique(run.splits()[1], return_counts=True))},
               'errors': run.meta.get('errors', [])}
        if oracle is not None:
            per_segment = segment_means(run, edges)
            keep = np.isfinite(per_segment) & np.isfinite(oracle.best_ms)
            widths = np.diff(edges)[keep]
            if keep.any():
                mine = float(np.sum(per_segment[keep] * widths) / widths.sum())
                best = float(np.sum(oracle.best_ms[keep] * widths) / widths.sum())
                row.update(segment_mean_ms=mine, oracle_ms=best, x_oracle=mine / best,
                           segments_compared=int(keep.sum()), segments=len(keep))
            conv = convergence(run, oracle, changes)
            row['convergence'] = conv
            if conv:
                row['convergence_frames_median'] = float(np.median([c['frames'] for c in conv]))
        for key, sim in sims.items():
            if label in sim:
                row[f'{key}_mean_ms'] = sim[label].mean
                row[f'live_over_{key}'] = run.mean_ms / sim[label].mean
        rows[label] = row
    return {'model': opts.model, 'trace': trace.name, 'trace_mean_mbps': trace.mean_mbps, 'duration': opts.duration,
            'fps': opts.fps, 'edge_slowdown_target': opts.edge_slowdown, 'calibration': calibration.__dict__,
            'cloud_load': opts.cloud_load, 'delay_ms': opts.delay_ms, 'segments': edges.tolist(), 'changes': changes,
            'oracle': None if oracle is None else {
                'best_ms': oracle.best_ms.tolist(), 'best_split': oracle.best_split.tolist(),
                'weighted_ms': oracle.weighted(oracle.best_ms)},
            'in_run_speed': {'edge_slowdown': live_platform.edge_slowdown,
                             'cloud_slowdown': 1.0 / live_platform.cloud_speedup},
            **{f'{key}_oracle_ms': sim['oracle'].mean for key, sim in sims.items()}, 'runs': rows}


def _fmt(v, spec='.1f', none='-'):
    return none if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, spec)


def render(data: dict, opts) -> str:
    """The bench report in Markdown: the setup, one table row per run, and how to read the columns."""
    c, speed = data['calibration'], data['in_run_speed']
    lines = [f"# Bench: {data['model']} over {data['trace']} ({data['trace_mean_mbps']:.2f} Mbit/s mean), "
             f"{data['duration']:.0f} s at {data['fps']:g} fps", '',
             f"Robot: edge and manager under {c['robot_cpus']:.3f} CPU, calibrated {c['ratio']:.1f}x slower than the "
             f"server on the model alone (target {data['edge_slowdown_target']:g}x; profiles in profiles/). While the "
             f"system runs, the model took {_fmt(speed['edge_slowdown'])}x its server-profile time on the robot and "
             f"{_fmt(speed['cloud_slowdown'], '.2f')}x on the server (the nodes' own work shares the CPU). "
             f"Propagation delay {data['delay_ms']:g} ms each way. Server load: {data['cloud_load'] or 'none'}.", '',
             'Live oracle: per segment (at most {:g} s, also cut at the trace\'s steps) the fastest fixed split run '
             'live; x oracle compares time-weighted segment means over the segments where both have frames. '
             'Sim: the simulator on the same trace and frame rate, with the calibration profiles; sim in-run: with '
             'the speeds measured while the system ran.'.format(opts.segment), '',
             '| run | frames | mean ms | p95 ms | x live oracle | sim ms | live / sim | sim in-run ms | '
             'live / sim in-run | overhead ms (%) | codec ms | conv. frames | in / ok / dropped / lost / other |',
             '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for label, r in data['runs'].items():
        a, o = r['accounting'], r['overhead']
        other = a['rejected'] + a['failed'] + a['missing']
        lines.append(
            f"| {label} | {r['frames']} | {_fmt(r['mean_ms'])} | {_fmt(r['p95_ms'])} | "
            f"{_fmt(r.get('x_oracle'), '.3f')} "
            f"| {_fmt(r.get('sim_mean_ms'))} | {_fmt(r.get('live_over_sim'), '.2f')} | "
            f"{_fmt(r.get('sim_in_run_mean_ms'))} | {_fmt(r.get('live_over_sim_in_run'), '.2f')} | "
            f"{_fmt(o.get('overhead_ms'))} ({_fmt(o.get('overhead_pct'))}%) | {_fmt(o.get('codec_ms'))} | "
            f"{_fmt(r.get('convergence_frames_median'), '.0f')} | {a['frames_in']} / {a['ok']} / {a['dropped']} / "
            f"{a['lost']} / {other} |")
    lines += ['', f"Simulated oracle (per frame): {_fmt(data.get('sim_oracle_ms'))} ms with the calibration "
                  f"profiles, {_fmt(data.get('sim_in_run_oracle_ms'))} ms with the in-run speeds; live oracle "
                  f"(per segment): {_fmt((data['oracle'] or {}).get('weighted_ms'))} ms.", '',
              'Overhead: e2e minus waiting for the busy pipeline, minus compute (pre/post-processing and the model '
              'on both sides), minus the ideal transfer at the trace rate; it holds the codec, DDS, serialization '
              'and queueing. Frames: in (camera) / results / dropped as stale at the edge / lost (no answer in '
              "time) / other (rejected, failed, no record). Convergence: frames after each of the trace's steps "
              'until the split is one within 5% of the live oracle\'s best for that segment (median).']
    errors = [(label, e) for label, r in data['runs'].items() for e in r['errors']]
    lines += [''] + [f'- {label}: {e}' for label, e in errors]
    return '\n'.join(lines).rstrip() + '\n'


def render_run(label: str, r: dict) -> str:
    """One run's summary in Markdown (``summary.md`` in its folder)."""
    a, o = r['accounting'], r['overhead']
    lines = [f'# {label}', '', f"- frames with a result: {r['frames']}; mean {_fmt(r['mean_ms'])} ms, "
                               f"p95 {_fmt(r['p95_ms'])} ms",
             f"- live oracle: {_fmt(r.get('oracle_ms'))} ms over the same segments; x oracle "
             f"{_fmt(r.get('x_oracle'), '.3f')}",
             f"- simulator: {_fmt(r.get('sim_mean_ms'))} ms with the calibration profiles (live / sim "
             f"{_fmt(r.get('live_over_sim'), '.2f')}), {_fmt(r.get('sim_in_run_mean_ms'))} ms with the in-run speeds "
             f"(live / sim {_fmt(r.get('live_over_sim_in_run'), '.2f')})",
             f"- frames in {a['frames_in']}: ok {a['ok']}, dropped {a['dropped']}, lost {a['lost']}, "
             f"rejected {a['rejected']}, failed {a['failed']}, no record {a['missing']}",
             '- splits served: ' + ', '.join(f'{k} x{v}' for k, v in r['splits'].items())]
    if o:
        lines.append(f"- per frame: waiting {o['waiting_ms']:.1f} ms, compute {o['compute_ms']:.1f} ms, ideal "
                     f"transfer {o['ideal_transfer_ms']:.1f} ms, overhead {o['overhead_ms']:.1f} ms "
                     f"({o['overhead_pct']:.1f}%, codec {o['codec_ms']:.1f} ms of it)")
    for c in r.get('convergence', []):
        lines.append(f"- step at {c['at_s']:.1f} s: {'reached' if c['reached'] else 'did not reach'} "
                     f"{c['oracle_splits']} after {c['frames']} frames ({c['seconds']:.1f} s)")
    return '\n'.join(lines) + '\n'


def plot_run(run: LiveRun, data: dict, trace: Trace, path: Path) -> None:
    """Save a PNG of the run's e2e latency, splits and link rate against the live oracle to ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(3, 1, figsize=(11, 7), sharex=True)
    t, e2e = run.e2e()
    axes[0].plot(t, e2e, '.', ms=4, label=f'{run.label} ({run.mean_ms:.0f} ms mean)')
    if data['oracle']:
        edges = np.array(data['segments'])
        axes[0].stairs(np.array(data['oracle']['best_ms'], dtype=float), edges, color='k', label='live oracle')
        axes[1].stairs(np.array(data['oracle']['best_split'], dtype=float), edges, color='k', label='oracle split')
    axes[0].set_ylabel('e2e ms')
    axes[0].set_yscale('log')
    axes[0].legend(fontsize=8)
    ts, split = run.splits()
    axes[1].step(ts, split, 'r.-', where='post', ms=3, lw=0.8, label=f'{run.label} split')
    axes[1].set_ylabel('split')
    axes[1].legend(fontsize=8)
    grid = np.linspace(0, data['duration'], 800)
    axes[2].plot(grid, trace.rate_at(grid) / 1e6, lw=1, label=f'{trace.name} Mbit/s')
    if len(run.states['time_s']):
        axes[2].plot(run.states['time_s'], run.states['bandwidth_mbps'], '.', ms=2, label='manager estimate')
    axes[2].set_ylabel('Mbit/s')
    axes[2].set_xlabel('s since the first frame')
    axes[2].set_xlim(0, data['duration'])
    axes[2].legend(fontsize=8)
    fig.suptitle(f"{data['model']}, {run.label}, {trace.name}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(opts, calibration, trace: Trace, folders: list[Path]) -> Path:
    """Write ``report.json``, ``report.md`` and each run's ``summary.md`` and ``timeline.png``;
    returns the path of report.md.
    """
    data = analyse(opts, calibration, trace, folders)
    (opts.out / 'report.json').write_text(json.dumps(data, indent=1, default=float))
    for folder in folders:
        run = LiveRun.load(folder)
        (folder / 'summary.md').write_text(render_run(run.label, data['runs'][run.label]))
        plot_run(run, data, trace, folder / 'timeline.png')
    path = opts.out / 'report.md'
    path.write_text(render(data, opts))
    return path
