"""``partnner replay``: a recorded run's link, robot and server, replayed through every policy."""

import argparse
import json
import math
import sys
from pathlib import Path

from ..core.simulation import SIM_POLICIES
from .common import profile_for

HELP = 'replay a recording (partnner record, or ros2 bag record -s mcap) through every policy'


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('recording', help='an MCAP file, or a rosbag2 folder of them')
    p.add_argument('--policy', default='all', help=f'all, or a comma-separated list of {",".join(SIM_POLICIES)}')
    p.add_argument('--robot', help='namespace of the robot to replay, when the recording holds several')
    p.add_argument('--model', help="the recorded model (default: the one the edge's diagnostics name)")
    p.add_argument('--codec', default='fp16+lz4', help='feature codec the policies use (default fp16+lz4)')
    p.add_argument('--input-codec', default='jpeg', help='codec at split 0 (default jpeg)')
    p.add_argument('--choose-codecs', action='store_true', help='let the policies choose the codec with the split')
    p.add_argument('--profile', help='a profile JSON (partnner profile --json) instead of measuring')
    p.add_argument('--profile-cache', default='results/profiles', help='where measured profiles are kept')
    p.add_argument('--link', help='replay on this link instead of the recorded one: a trace file, steps:..., '
                                  'ramp:... or gen:... (as partnner simulate --trace); needed when nothing crossed '
                                  'the link in the recording')
    p.add_argument('--trace-out', help='write the extracted link trace here ("<seconds> <Mbit/s>" lines)')
    p.add_argument('--plot', metavar='DIR', help='draw the recording and every replayed policy over time into DIR')
    p.add_argument('--json', action='store_true')


def run(args) -> int:
    from ..core.recording.bag import read_recording
    from ..core.recording.conditions import conditions
    from ..core.recording.replay import prediction, replay
    from ..core.simulation.metrics import format_table
    from ..core.simulation.scenario import SimProfile
    from ..core.simulation.traces import trace_from_spec
    wanted = SIM_POLICIES if args.policy == 'all' else tuple(args.policy.split(','))
    unknown = [p for p in wanted if p not in SIM_POLICIES]
    if unknown:
        print(f'partnner replay: unknown policy {unknown}; choose from {", ".join(SIM_POLICIES)}', file=sys.stderr)
        return 2
    try:
        rec = read_recording(args.recording, robot=args.robot)
        for problem in rec.problems:
            print(f'partnner replay: {problem}', file=sys.stderr)
        model = args.model or _named_model(rec)
        measured = profile_for(model, args.profile, args.profile_cache, sys.stderr)
        profile = SimProfile.from_profile(measured, args.codec, args.input_codec, choose_codecs=args.choose_codecs)
        cond = conditions(rec, profile, model, trace_from_spec(args.link) if args.link else None)
        runs, summary, notes = replay(cond, profile, wanted)
    except ValueError as e:
        print(f'partnner replay: {e}', file=sys.stderr)
        return 2
    for note in notes:
        print(f'partnner replay: {note}', file=sys.stderr)
    if args.trace_out:
        Path(args.trace_out).write_text(''.join(f'{t:.3f} {r / 1e6:.4f}\n'
                                                for t, r in zip(cond.trace.start, cond.trace.rate)))
    predicted = prediction(summary, cond)
    if args.plot:
        from .replay_plot import plot_replay
        print(f'partnner replay: plotted to {plot_replay(rec, cond, runs, Path(args.plot))}', file=sys.stderr)
    if args.json:
        print(json.dumps({'recording': str(rec.path), 'model': model, 'conditions': _describe(cond),
                          'policies': summary, 'notes': notes + rec.problems,
                          'recorded_policy': predicted and {'row': predicted[0], 'error': predicted[1]}}, indent=1))
        return 0
    print(format_table(summary, f'{model} replayed from {rec.path.name}: {_text(cond)}'))
    if predicted:
        print(f'\nreplay of the recorded policy ({predicted[0]}): {summary[predicted[0]]["mean_ms"]:.1f} ms, live '
              f'{summary["live"]["mean_ms"]:.1f} ms ({predicted[1]:+.1%})')
    return 0


def _named_model(rec) -> str:
    from ..core.recording.conditions import recorded_model
    model = recorded_model(rec)[0]
    if not model:
        raise ValueError(f"{rec.path}: the recording does not name its model (no edge diagnostics); give --model")
    return model


def _describe(cond) -> dict:
    return {'policy': cond.policy, 'fps': cond.fps, 'duration_s': cond.duration_s, 'frames': len(cond.frames),
            'served': len(cond.served), 'probes': len(cond.probes), 'link_mean_mbps': cond.trace.mean_mbps,
            'delay_ms': cond.delay_ms, 'edge_factor': cond.edge_factor, 'cloud_factor': cond.cloud_factor,
            'edge_io': cond.edge_io, 'cloud_io': cond.cloud_io, 'intake_ms': cond.intake_ms,
            'edge_load': [list(p) for p in cond.edge_load.points],
            'cloud_load': [list(p) for p in cond.cloud_load.points],
            'noise': cond.noise}


def _text(cond) -> str:
    return (f'{cond.policy or "?"} recorded, {len(cond.frames)} frames at {cond.fps:.1f} fps over '
            f'{cond.duration_s:.0f} s; link {cond.trace.mean_mbps:.2f} Mbit/s mean; model layers '
            f'{_x(cond.edge_factor)} on the robot and {_x(cond.cloud_factor)} on the server, the rest '
            f'{_x(cond.edge_io)} and {_x(cond.cloud_io)}, against this machine')


def _x(factor: float) -> str:
    return f'{factor:.1f}x' if math.isfinite(factor) else 'unmeasured'
