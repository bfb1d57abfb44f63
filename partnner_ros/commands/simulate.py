"""``partnner simulate``: the split policies on bandwidth traces, against the oracle."""

import argparse
import json
import sys

from ..core.simulation import SIM_POLICIES
from .codec_choice import codec_note, codec_options
from .common import profile_for

HELP = 'trace-driven simulation of the split policies against the oracle'


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('--model', required=True, help='model to simulate (profiled on this machine, then cached)')
    p.add_argument('--trace', required=True,
                   help='a bandwidth trace file ("<seconds> <Mbit/s>" lines), a folder of them, '
                        'steps:MBPS,...@SECONDS, ramp:FROM,TO@SECONDS, or a generated bursty link '
                        'gen:KIND,cv=C,mean=MBPS[,seed=S][,seconds=T][,step=DT] with KIND lognormal, markov or '
                        'onoff, e.g. '
                        'gen:lognormal,cv=1.0,mean=2,seed=3')
    p.add_argument('--platform', default='edge10x',
                   help='edge5x, edge10x (default), edge20x, EDGE_SLOWDOWN[:CLOUD_SPEEDUP] (e.g. 8:2), or a preset '
                        'from published latencies of the model: rpi4-t4, orin-nano-t4, s24-npu-t4 '
                        '(docs/platforms.md)')
    p.add_argument('--policy', default='all', help=f'all, or a comma-separated list of {",".join(SIM_POLICIES)} '
                                                   '(best_static and informed are references that know the '
                                                   'trace in hindsight)')
    p.add_argument('--codec', default='fp16+lz4', help='feature codec (default fp16+lz4)')
    p.add_argument('--input-codec', default='jpeg', help='codec at split 0 (default jpeg)')
    p.add_argument('--choose-codecs', action='store_true',
                   help='let the policies choose the codec with the split, among the candidates the profile '
                        'measured within its fidelity bound (a profile without fidelity allows none)')
    p.add_argument('--fps', type=float, default=10.0, help='camera frame rate (default 10)')
    p.add_argument('--cloud-load', default='', help='cloud load schedule "s:factor,...", e.g. 0:1,30:3,60:1')
    p.add_argument('--edge-load', default='', help='edge load schedule, same form')
    p.add_argument('--delay-ms', type=float, default=20.0, help='one-way propagation delay (default 20)')
    p.add_argument('--duration', type=float, help='seconds per trace (default: the trace, at most 600)')
    p.add_argument('--seed', type=int, default=0, help='seed of the compute noise')
    p.add_argument('--profile', help='a profile JSON (partnner profile --json) instead of measuring')
    p.add_argument('--profile-cache', default='results/profiles', help='where measured profiles are kept')
    p.add_argument('--json', action='store_true')


def run(args) -> int:
    from ..core.adaptation.policies import POLICIES
    from ..core.simulation.metrics import aggregate, format_choices, format_table, summarize
    from ..core.simulation.platforms import PRESETS, resolve_platform
    from ..core.simulation.scenario import Scenario, SimProfile
    from ..core.simulation.simulator import run_all
    from ..core.simulation.traces import Steps, load_traces
    wanted = SIM_POLICIES if args.policy == 'all' else tuple(args.policy.split(','))
    unknown = [p for p in wanted if p not in SIM_POLICIES and p not in POLICIES]
    if unknown or 'fixed' in wanted:
        print(f'partnner simulate: unknown policy {unknown or ["fixed"]}; choose from {", ".join(SIM_POLICIES)}',
              file=sys.stderr)
        return 2
    try:
        platform = None if args.platform in PRESETS else resolve_platform(args.platform)
        measured = profile_for(args.model, args.profile, args.profile_cache, sys.stderr)
        platform = platform or resolve_platform(args.platform, measured)
    except ValueError as e:
        print(f'partnner simulate: {e}', file=sys.stderr)
        return 2
    profile = SimProfile.from_profile(measured, args.codec, args.input_codec, choose_codecs=args.choose_codecs)
    note = codec_note(profile, measured) if args.choose_codecs else ''
    if note:
        print(f'partnner simulate: {note}', file=sys.stderr if args.json else sys.stdout)
    per_trace = {}
    for trace in load_traces(args.trace):
        sc = Scenario(profile, platform, trace, fps=args.fps, cloud_load=Steps.parse(args.cloud_load),
                      edge_load=Steps.parse(args.edge_load), delay_ms=args.delay_ms, duration_s=args.duration,
                      seed=args.seed)
        summary = summarize(run_all(sc, wanted), sc.change_times(), profile.space.num_layers)
        per_trace[trace.name] = summary
        if not args.json:
            print(format_table(summary, f'\n{profile.name} on {platform.name}, trace {trace.name} '
                                        f'({trace.mean_mbps:.2f} Mbit/s mean, {sc.duration:.0f} s)'))
    overall = aggregate(list(per_trace.values()))
    if args.json:
        print(json.dumps({'model': profile.name, 'platform': platform.__dict__, 'codec': args.codec,
                          'input_codec': args.input_codec, 'choose_codecs': args.choose_codecs,
                          'codec_options': codec_options(profile), 'codec_note': note,
                          'traces': per_trace, 'overall': overall}, indent=1))
        return 0
    if len(per_trace) > 1:
        print(format_table(overall, f'\naverage over {len(per_trace)} traces'))
    if args.choose_codecs:
        print('\nsplit kind and codec of the served frames' + (' (average over traces)' if len(per_trace) > 1 else ''))
        print('\n'.join(f"{row['label']:<26} {format_choices(row['choices'])}" for row in overall.values()))
    return 0

