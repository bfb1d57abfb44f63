"""``partnner report``: the paper-style table across models, platforms and link
families, with convergence after steps and plots, written to a folder.
"""

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.simulation.generated import FAMILY_MEANS
from ..core.simulation.metrics import aggregate, summarize
from ..core.simulation.platforms import DEFAULT_PRESETS, LINKS, PRESETS, resolve_platform
from ..core.simulation.scenario import Platform, Scenario, SimProfile, Truth
from ..core.simulation.simulator import Run, run_all
from ..core.simulation.traces import FAMILIES, Steps, Trace, load_traces
from .codec_choice import codec_choice_data, codec_section
from .common import default_traces, profile_for
from .report_sections import family_table, generated_data, generated_section, paper_data, paper_section, simulate_traces

HELP = 'paper-style table: models x platforms x link families, and plots'


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('--models', default='yolov8n,yolo11n,ssdlite320_mobilenet_v3_large,resnet18,resnet50,'
                                       'mobilenet_v3_large', help='comma-separated models')
    p.add_argument('--platforms', default='edge5x,edge10x,edge20x',
                   help='simulated platforms: edge5x, edge10x, edge20x, EDGE_SLOWDOWN[:CLOUD_SPEEDUP] or a preset')
    p.add_argument('--presets', default=','.join(DEFAULT_PRESETS),
                   help=f'published platforms for the PArtNNer table ({", ".join(PRESETS)}); "" skips the table')
    p.add_argument('--links', default=','.join(LINKS), help="Neurosurgeon's links for the PArtNNer table "
                                                           f'({", ".join(LINKS)})')
    p.add_argument('--gen-seeds', type=int, default=1,
                   help='seeds per generated link family and mean (default 1; 0 skips the generated families)')
    p.add_argument('--gen-means', default=','.join(f'{m:g}' for m in FAMILY_MEANS),
                   help='mean rates (Mbit/s) of the generated links (default %(default)s)')
    p.add_argument('--traces', default=default_traces(), help='folder holding hsdpa/, fcc/ and oboe/ (default '
                                                            '$PARTNNER_TRACES, else ../shared/traces)')
    p.add_argument('--traces-per-family', type=int, default=4, help='traces of each family (default 4)')
    p.add_argument('--duration', type=float, default=120.0, help='seconds per trace')
    p.add_argument('--codec', default='fp16+lz4', help='feature codec (default fp16+lz4)')
    p.add_argument('--choose-codecs', action=argparse.BooleanOptionalAction, default=True,
                   help='let the policies choose the codec with the split among the candidates each profile '
                        'measured within its fidelity bound (default on; --no-choose-codecs: the defaults only)')
    p.add_argument('--profile-cache', default='results/profiles', help='where measured profiles are kept')
    p.add_argument('--out', default='results/report', help='the report folder (default results/report)')


def run(args) -> int:
    profiles = {m: profile_for(m, None, args.profile_cache) for m in args.models.split(',')}
    out = Path(args.out)
    presets, links = _names(args.presets), _names(args.links)
    unknown = [n for n in presets if n not in PRESETS] + [n for n in links if n not in LINKS]
    if unknown:
        print(f'partnner report: unknown preset or link {", ".join(unknown)}; presets: {", ".join(PRESETS)}, '
              f'links: {", ".join(LINKS)}', file=sys.stderr)
        return 2
    try:
        means = tuple(float(m) for m in _names(args.gen_means))
    except ValueError:
        print(f'partnner report: --gen-means is Mbit/s,Mbit/s,..., got {args.gen_means!r}', file=sys.stderr)
        return 2
    build_report(ReportConfig(profiles, Path(args.traces), tuple(args.platforms.split(',')),
                              args.traces_per_family, args.duration, codec=args.codec, presets=presets, links=links,
                              gen_seeds=args.gen_seeds, gen_means=means, choose_codecs=args.choose_codecs), out,
                 log=lambda line: print(line, file=sys.stderr))
    print(f'report written to {out / "report.md"} (data in report.json, plots *.png)')
    return 0


def _names(text: str) -> tuple[str, ...]:
    return tuple(n for n in text.split(',') if n)


@dataclass
class ReportConfig:
    """What ``build_report`` simulates: model profiles, trace folder, platforms, traces per family,
    seconds per run, frame rate, codec, the cloud-load schedule (``seconds:factor,...``), the
    presets and links of the PArtNNer table, the generated families' seeds and mean rates, and
    whether the policies choose the codec with the split.
    """

    profiles: dict[str, dict]        # model -> profile json
    traces_root: Path
    platforms: tuple[str, ...] = ('edge5x', 'edge10x', 'edge20x')
    traces_per_family: int = 4
    duration_s: float = 120.0
    fps: float = 10.0
    codec: str = 'fp16+lz4'
    cloud_load: str = '0:1,40:3,80:1'
    seed: int = 0
    presets: tuple[str, ...] = DEFAULT_PRESETS
    links: tuple[str, ...] = tuple(LINKS)
    gen_seeds: int = 1
    gen_means: tuple[float, ...] = FAMILY_MEANS
    choose_codecs: bool = True


def pick_traces(root: Path, per_family: int) -> dict[str, list]:
    """A deterministic spread of traces from each family folder under ``root``."""
    out = {}
    for family in FAMILIES:
        folder = root / family
        if not folder.is_dir():
            continue
        traces = load_traces(folder)
        step = max(1, len(traces) // per_family)
        out[family] = traces[::step][:per_family]
    if not out:
        raise ValueError(f'no trace families ({", ".join(FAMILIES)}) under {root}')
    return out


def _stay_penalty(profile: SimProfile, platform: Platform, before: tuple, after: tuple) -> float:
    """How much slower the best split for conditions ``before`` (Mbit/s, cloud load) is
    than the best split under ``after``, both judged under ``after`` (1: no penalty).
    """
    def costs(mbps, load):
        sc = Scenario(profile, platform, Trace.steps([mbps], 100.0), noise=0.0, duration_s=1.0,
                      cloud_load=Steps(((0.0, load),)))
        e2e = Truth(sc).costs(0, 0.0)[0]
        usable = np.array(profile.space.splits)
        return usable, e2e[usable]
    usable, c_before = costs(*before)
    _, c_after = costs(*after)
    return float(c_after[np.argmin(c_before)] / c_after.min())


BANDWIDTHS = tuple(float(x) for x in np.geomspace(0.5, 200.0, 27))
LOADS = (2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def step_scenarios(profile: SimProfile, plat: Platform, seed: int = 0) -> list[Scenario]:
    """Synthetic steps for convergence, placed where the oracle's split moves: bandwidth
    10x down and back up, around the level where staying put would cost the most; and
    the cloud loaded by the smallest factor (of LOADS) that moves the split, on and off.
    """
    base = max(BANDWIDTHS, key=lambda b: min(_stay_penalty(profile, plat, (b, 1.0), (b / 10, 1.0)),
                                             _stay_penalty(profile, plat, (b / 10, 1.0), (b, 1.0))))
    load = next((f for f in LOADS if _stay_penalty(profile, plat, (base, 1.0), (base, f)) > 1.05), LOADS[-1])
    return [
        Scenario(profile, plat, Trace.steps([base, base / 10] * 3, 20.0, f'bandwidth {base:.1f}/{base / 10:.2f} '
                 'Mbit/s steps'), duration_s=120.0, seed=seed),
        Scenario(profile, plat, Trace.steps([base], 120.0, f'constant {base:.1f} Mbit/s'),
                 cloud_load=Steps(((0.0, 1.0), (20.0, load), (40.0, 1.0), (60.0, load), (80.0, 1.0), (100.0, load))),
                 duration_s=120.0, seed=seed),
    ]


def build_report(cfg: ReportConfig, out_dir: Path, log=print) -> dict:
    """Run every model x platform x family (and the step scenarios), the PArtNNer table on the
    presets and links, and the generated link families; write report.md, report.json and plots
    to ``out_dir``; return the report data.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    families = pick_traces(cfg.traces_root, cfg.traces_per_family)
    data: dict = {'config': {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.__dict__.items()
                       if k != 'profiles'},
            'models': sorted(cfg.profiles), 'families': {f: [t.name for t in ts] for f, ts in families.items()},
            'cells': {}, 'convergence': {}}
    profiles = {m: SimProfile.from_profile(cfg.profiles[m], cfg.codec, choose_codecs=cfg.choose_codecs)
                for m in sorted(cfg.profiles)}
    data['codec_choice'] = codec_choice_data(cfg.choose_codecs, cfg.codec, profiles, cfg.profiles)
    for model, m in data['codec_choice']['models'].items():
        if m['note']:
            log(f'partnner report: {model} may choose no codec beyond the defaults: {m["note"]}')
    for model, profile in profiles.items():
        for name in cfg.platforms:
            platform = resolve_platform(name, cfg.profiles[model])
            plot = name == cfg.platforms[len(cfg.platforms) // 2]
            for family, traces in families.items():
                summaries, (runs, sc) = simulate_traces(cfg, profile, platform, traces)
                if plot:
                    plot_runs(runs, sc, out_dir / f'{model}-{name}-{family}.png')
                cell = aggregate(summaries)
                data['cells'][f'{model}|{name}|{family}'] = cell
                log(f"{model:<30} {name:<8} {family:<6} partnner x{cell['partnner']['x_oracle']:.3f} of "
                    f"oracle, {cell['partnner']['speedup_vs_edge_only']:.2f}x vs edge-only, "
                    f"{cell['partnner']['speedup_vs_cloud_only']:.2f}x vs cloud-only")
            data['convergence'][f'{model}|{name}'] = convergence_cell(profile, platform, cfg.seed)
    data['paper'] = paper_data(cfg, profiles, log) if cfg.presets and cfg.links else {}
    data['generated'] = generated_data(cfg, profiles, log)
    (out_dir / 'report.json').write_text(json.dumps(data, indent=1))
    (out_dir / 'report.md').write_text(render_markdown(data))
    return data


def convergence_cell(profile: SimProfile, platform: Platform, seed: int = 0) -> dict:
    """Median convergence (frames and seconds) of partnner, neurosurgeon and ans after the bandwidth
    and the cloud-load steps of :func:`step_scenarios`, with each scenario's setting.
    """
    policies = ('partnner', 'neurosurgeon', 'ans')
    scenarios = step_scenarios(profile, platform, seed)
    steps = [summarize(run_all(sc, policies), sc.change_times(), profile.space.num_layers) for sc in scenarios]
    return {kind: {p: s[p]['convergence_frames_median'] for p in policies}
            | {f'{p}_seconds': s[p]['convergence_seconds_median'] for p in policies}
            | {'setting': sc.trace.name if kind == 'bandwidth' else
               f'{sc.trace.name}, load x{max(f for _, f in sc.cloud_load.points):g}'}
            for kind, s, sc in zip(('bandwidth', 'cloud_load'), steps, scenarios)}


POLICY_ORDER = ('partnner', 'best_static', 'informed', 'neurosurgeon', 'ans', 'cloud_only', 'edge_only')
INFORMED_TEXT = ('best_static and informed are references that know the trace in hindsight. best_static is the '
                 'best fixed split (and codec). informed is told the link\'s rate as each frame starts, and what '
                 'every option costs on average from a moment at that rate, and acts on both as well as it can '
                 '(core/simulation/informed.py), or is the best fixed split where that does not pay. Its distance '
                 'below best_static is what reacting to the link gains when the rate comes for free; partnner '
                 'must learn the rate from its own frames and probes.')


def render_markdown(data: dict) -> str:
    cfg = data['config']
    lines = ['# partnner simulation report', '',
             'Regenerate with `./run partnner report` (results/report/; docs/results.md is a copy of its '
             'report.md). Profiles are measured once on this machine, with fidelity, and cached in '
             'results/profiles/.', '',
             f"Models: {', '.join(data['models'])}. Platforms: {', '.join(cfg['platforms'])} (edgeNx: the robot N "
             f"times slower than the server, this machine's profile scaled). Links: " + ', '.join(
                 f"{FAMILIES.get(f, f)} ({len(t)} traces)" for f, t in data['families'].items())
             + f". {cfg['duration_s']:.0f} s per trace at {cfg['fps']:.0f} fps, codec "
             f"{cfg['codec']} ({_codec_choice_text(cfg)}), cloud load schedule {cfg['cloud_load']}.", '']
    lines += _speedup_section(data) + _family_section(data) + _averages_section(data) + _convergence_section(data)
    lines += codec_section(data) + paper_section(data) + generated_section(data)
    return '\n'.join(lines) + '\n'


def _codec_choice_text(cfg: dict) -> str:
    if cfg.get('choose_codecs', False):
        return 'codec choice on: the policies may choose the codec with the split, see "Codec chosen with the split"'
    return 'codec choice off: every policy sends the default codecs'


def _speedup_section(data: dict) -> list[str]:
    families = list(data['families'])
    lines = ['## partnner against edge-only, cloud-only and the oracle', '',
             f"Each cell: partnner's speedup over edge-only and over cloud-only, and its mean latency as a multiple "
             f"of the oracle's; {_codec_choice_text(data['config'])}.", '',
             '| model | platform | ' + ' | '.join(f'{f}: vs edge / vs cloud / x oracle' for f in families) + ' |',
             '| --- | --- | ' + ' | '.join('---' for _ in families) + ' |']
    present = {k.split('|')[1] for k in data['cells']}
    platforms = [p for p in data['config']['platforms'] if p in present]
    for model in data['models']:
        for platform in platforms:
            cells = []
            for f in families:
                c = data['cells'].get(f'{model}|{platform}|{f}')
                p = c['partnner'] if c else None
                cells.append('-' if p is None else f"{p['speedup_vs_edge_only']:.2f}x / "
                             f"{p['speedup_vs_cloud_only']:.2f}x / {p['x_oracle']:.3f}")
            lines.append(f'| {model} | {platform} | ' + ' | '.join(cells) + ' |')
    return lines


def _family_section(data: dict) -> list[str]:
    lines = ['', '## Every policy, averaged per link family (mean latency as a multiple of the oracle)', '',
             INFORMED_TEXT, '',
             "The last column: partnner's shadow probes as a share of the uplink's capacity (over the whole run, "
             "and after its first 10 s of start-up) and of the server's time (mean over models and platforms).", '']
    lines += family_table(data['families'], data['cells'], POLICY_ORDER,
                          'partnner probes: uplink / after 10 s / server',
                          lambda cells: ' / '.join(f"{np.mean([c['partnner'][key] for c in cells]):.1%}" for key in (
                              'probe_uplink_share', 'probe_uplink_share_steady', 'probe_server_share')))
    return lines


def _averages_section(data: dict) -> list[str]:
    allcells = list(data['cells'].values())
    lines = ['', '## Averages over everything', '',
             '| policy | x oracle | speedup vs edge-only (mean / max) | speedup vs cloud-only (mean / max) |',
             '| --- | --- | --- | --- |']
    for pol in POLICY_ORDER:
        xo = [c[pol]['x_oracle'] for c in allcells]
        se = [c[pol]['speedup_vs_edge_only'] for c in allcells]
        sc = [c[pol]['speedup_vs_cloud_only'] for c in allcells]
        lines.append(f'| {pol} | {np.mean(xo):.3f} | {np.mean(se):.2f}x / {np.max(se):.2f}x | '
                     f'{np.mean(sc):.2f}x / {np.max(sc):.2f}x |')
    return lines


def _convergence_section(data: dict) -> list[str]:
    fps = data['config']['fps']
    lines = ['', '## Convergence after a step', '',
             'Median over the steps of each scenario: frames (and seconds) until the split is as good as the '
             "oracle's (within 3%) and stays so for 5 frames. Steps are placed where the oracle's split moves; "
             "neurosurgeon re-profiles both machines after a load change, taking its measured profiling time at "
             'the new speeds. The last column compares seconds to converge after load steps (a frame interval '
             'at least).', '',
             '| model | platform | bandwidth steps | partnner / neurosurgeon / ans | cloud load steps | '
             'partnner / neurosurgeon / ans | load: neurosurgeon / partnner |',
             '| --- | --- | --- | --- | --- | --- | --- |']
    ratios = []

    def cell(d):
        return ' / '.join(f"{d[p]:.0f} ({d[p + '_seconds']:.1f} s)" for p in ('partnner', 'neurosurgeon', 'ans'))
    for key, conv in data['convergence'].items():
        model, platform = key.split('|')
        b, c = conv['bandwidth'], conv['cloud_load']
        ratio = c['neurosurgeon_seconds'] / max(c['partnner_seconds'], 1 / fps)
        ratios.append(ratio)
        lines.append(f"| {model} | {platform} | {b['setting']} | {cell(b)} | {c['setting']} | {cell(c)} | "
                     f'{ratio:.1f}x |')
    if ratios:
        p_frames = [v[k]['partnner'] for v in data['convergence'].values() for k in ('bandwidth', 'cloud_load')]
        lines += ['', f'partnner converges in a median of {np.median(p_frames):.0f} frames over all step scenarios; '
                  f'after load steps it is {np.median(ratios):.1f}x faster than neurosurgeon (median; geometric '
                  f'mean {np.exp(np.mean(np.log(ratios))):.1f}x).']
    return lines


def plot_runs(runs: dict[str, Run], sc: Scenario, path: Path) -> None:
    """Latency over time with the chosen split, the trace, and the oracle's split."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(3, 1, figsize=(11, 8), sharex=True)
    for name in ('oracle', 'partnner', 'neurosurgeon', 'cloud_only', 'edge_only'):
        if name in runs:
            r = runs[name]
            axes[0].plot(r.start, r.latency, '.', ms=3, label=f'{name} ({r.mean:.0f} ms)')
    axes[0].set_ylabel('latency ms')
    axes[0].set_yscale('log')
    axes[0].legend(fontsize=8, ncol=3)
    for name, style in (('oracle', 'k-'), ('partnner', 'r--')):
        if name in runs:
            axes[1].step(runs[name].start, runs[name].split, style, where='post', label=name, lw=1)
    axes[1].set_ylabel('split')
    axes[1].legend(fontsize=8)
    t = np.linspace(0, sc.duration, 600)
    axes[2].plot(t, sc.trace.rate_at(t) / 1e6, lw=1, label=f'{sc.trace.name} Mbit/s')
    axes[2].plot(t, sc.cloud_load.at(t), lw=1, label='cloud load x')
    axes[2].set_xlabel('s')
    axes[2].legend(fontsize=8)
    fig.suptitle(f'{sc.profile.name}, {sc.platform.name}, {sc.trace.name}')
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
