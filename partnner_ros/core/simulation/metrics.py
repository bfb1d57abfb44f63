"""Metrics of simulated runs: per policy and trace, averaged over traces, as a table."""

from collections import Counter

import numpy as np

from .simulator import Run, convergence


def choices(run: Run, num_layers: int | None = None) -> dict:
    """Share of ``run``'s served frames per kind of split and codec: ``edge_only`` (a share),
    ``cloud_only`` and ``intermediate`` (``{codec: share}``). Edge-only is split ``num_layers``, or
    without it, a frame sent with no codec.
    """
    frames = len(run.split)
    out: dict = {'edge_only': 0.0, 'cloud_only': {}, 'intermediate': {}}
    codecs = run.codec if len(run.codec) == frames else ('?',) * frames
    for (k, codec), count in Counter(zip(run.split.tolist(), codecs)).items():
        edge = k == num_layers if num_layers is not None else codec == ''
        if edge:
            out['edge_only'] += count / frames
        else:
            kind = out['cloud_only' if k == 0 else 'intermediate']
            kind[codec] = kind.get(codec, 0.0) + count / frames
    return out


def summarize(runs: dict[str, Run], events: list[float], num_layers: int | None = None) -> dict[str, dict]:
    """Per policy: mean/p95 latency, ratio to the oracle, speedups, switches, convergence, probe shares
    and the ``choices`` of split kind and codec (edge-only at split ``num_layers``, see :func:`choices`).
    """
    oracle = runs['oracle'].mean
    edge = runs['edge_only'].mean if 'edge_only' in runs else float('nan')
    cloud = runs['cloud_only'].mean if 'cloud_only' in runs else float('nan')
    out = {}
    for name, r in runs.items():
        conv = convergence(r, events)
        frames = [c[1] for c in conv]
        seconds = [c[2] for c in conv]
        out[name] = {
            'label': r.policy, 'frames': len(r.latency), 'dropped': r.dropped,
            'mean_ms': r.mean, 'p95_ms': r.p95, 'x_oracle': r.mean / oracle,
            'speedup_vs_edge_only': edge / r.mean, 'speedup_vs_cloud_only': cloud / r.mean,
            'switches': r.switches, 'decision_us': r.decision_us,
            'probe_uplink_share': r.probe_uplink_share, 'probe_server_share': r.probe_server_share,
            'probe_uplink_share_steady': r.probe_uplink_share_steady,
            'convergence_events': len(conv),
            'convergence_frames_median': float(np.median(frames)) if frames else None,
            'convergence_seconds_median': float(np.median(seconds)) if seconds else None,
            'convergence_censored': sum(c[3] for c in conv),
            'choices': choices(r, num_layers),
        }
    return out


def format_table(summary: dict[str, dict], title: str) -> str:
    """A fixed-width text table of ``summarize`` rows under ``title``: latencies in ms, speedups, convergence."""
    w = max([26, *(len(s['label']) for s in summary.values())])
    lines = [title, f"{'policy':<{w}} {'mean ms':>9} {'p95 ms':>9} {'x oracle':>8} {'vs edge':>8} {'vs cloud':>8} "
                    f"{'switches':>8} {'conv frames':>11} {'conv s':>7} {'decision':>9} {'probes: uplink':>14} "
                    f"{'server':>6}"]
    for s in summary.values():
        conv_f = '-' if s['convergence_frames_median'] is None else f"{s['convergence_frames_median']:.0f}"
        conv_s = '-' if s['convergence_seconds_median'] is None else f"{s['convergence_seconds_median']:.1f}"
        lines.append(f"{s['label']:<{w}} {s['mean_ms']:>9.1f} {s['p95_ms']:>9.1f} {s['x_oracle']:>8.2f} "
                     f"{s['speedup_vs_edge_only']:>7.2f}x {s['speedup_vs_cloud_only']:>7.2f}x {s['switches']:>8} "
                     f"{conv_f:>11} {conv_s:>7} {s['decision_us']:>7.0f}us {s['probe_uplink_share']:>13.1%} "
                     f"{s['probe_server_share']:>6.1%}")
    return '\n'.join(lines)


def aggregate(summaries: list[dict[str, dict]]) -> dict[str, dict]:
    """Average the per-trace summaries of one configuration (means of ratios)."""
    out = {}
    for name in summaries[0]:
        rows = [s[name] for s in summaries]
        conv = [r['convergence_frames_median'] for r in rows if r['convergence_frames_median'] is not None]
        conv_s = [r['convergence_seconds_median'] for r in rows if r['convergence_seconds_median'] is not None]
        out[name] = {
            'label': name, 'traces': len(rows),
            **{k: float(np.mean([r[k] for r in rows])) for k in (
                'mean_ms', 'p95_ms', 'x_oracle', 'speedup_vs_edge_only', 'speedup_vs_cloud_only', 'decision_us',
                'probe_uplink_share', 'probe_server_share', 'probe_uplink_share_steady')},
            'probe_uplink_share_max': float(max(r['probe_uplink_share'] for r in rows)),
            'probe_uplink_share_steady_max': float(max(r['probe_uplink_share_steady'] for r in rows)),
            'probe_server_share_max': float(max(r['probe_server_share'] for r in rows)),
            'switches': int(sum(r['switches'] for r in rows)),
            'convergence_frames_median': float(np.median(conv)) if conv else None,
            'convergence_seconds_median': float(np.median(conv_s)) if conv_s else None,
            'choices': mean_choices([r['choices'] for r in rows if 'choices' in r]),
        }
    return out


def mean_choices(rows: list[dict]) -> dict:
    """The mean of several :func:`choices` (a codec missing from one counts 0 there)."""
    out: dict = {'edge_only': 0.0, 'cloud_only': {}, 'intermediate': {}}
    for row in rows:
        out['edge_only'] += row['edge_only'] / len(rows)
        for kind in ('cloud_only', 'intermediate'):
            for codec, share in row[kind].items():
                out[kind][codec] = out[kind].get(codec, 0.0) + share / len(rows)
    return out


def format_choices(choice: dict) -> str:
    """One line of :func:`choices`: edge-only, cloud-only and intermediate shares, each by codec."""
    def kind(shares: dict) -> str:
        total = sum(shares.values())
        codecs = ', '.join(f'{c} {v:.0%}' for c, v in sorted(shares.items(), key=lambda x: -x[1]))
        return f'{total:.0%}' + (f' ({codecs})' if codecs else '')
    return (f"edge-only {choice['edge_only']:.0%}, cloud-only {kind(choice['cloud_only'])}, "
            f"intermediate {kind(choice['intermediate'])}")
