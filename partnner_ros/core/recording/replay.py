"""Replaying a recorded run: its conditions as a simulator scenario, every policy through it, and the
run as it happened beside them.
"""

import math
from dataclasses import replace

import numpy as np

from ..adaptation.frames import Status
from ..simulation.metrics import summarize
from ..simulation.scenario import Platform, Scenario, SimProfile
from ..simulation.simulator import Run, run_all, simulate_fixed
from .conditions import Conditions

FIXED = ('fixed', 'edge_only', 'cloud_only')


def scenario(cond: Conditions, profile: SimProfile) -> tuple[Scenario, list[str]]:
    """The recorded conditions as a scenario on ``profile`` (the model profiled on this machine), and what
    had to be assumed. Each side's model layers run at its measured factor; its other work (image intake
    and codecs, postprocessing) at its own, by scaling those costs in the profile.
    """
    notes: list[str] = []
    edge = _factor(cond.edge_factor, cond.edge_io, 'robot', notes)
    cloud = _factor(cond.cloud_factor, cond.cloud_io, 'server', notes)
    edge_io = cond.edge_io / edge if math.isfinite(cond.edge_io) else 1.0
    cloud_io = cond.cloud_io / cloud if math.isfinite(cond.cloud_io) else 1.0
    post = cloud_io if math.isfinite(cond.cloud_io) else edge_io
    scaled = replace(profile, preprocess_ms=profile.preprocess_ms * edge_io, encode_ms=profile.encode_ms * edge_io,
                     decode_ms=profile.decode_ms * cloud_io, postprocess_ms=profile.postprocess_ms * post,
                     extra=tuple((k, c, b, e * edge_io, d * cloud_io) for k, c, b, e, d in profile.extra))
    platform = Platform('recorded', edge_slowdown=edge, cloud_speedup=1.0 / cloud)
    sc = Scenario(scaled, platform, cond.trace, fps=cond.fps, cloud_load=cond.cloud_load, edge_load=cond.edge_load,
                  delay_ms=cond.delay_ms, noise=min(max(cond.noise, 0.01), 0.5), duration_s=cond.duration_s,
                  intake_ms=cond.intake_ms)
    return sc, notes


def _factor(model: float, io: float, side: str, notes: list[str]) -> float:
    """A side's factor on the model's layers: measured, else as its other work, else this machine's."""
    if math.isfinite(model):
        return model
    if math.isfinite(io):
        notes.append(f"the recording never measured the {side}'s model layers: replay assumes they slow down as "
                     f'its other work does ({io:.1f}x this machine)')
        return io
    notes.append(f"the recording never measured the {side}'s work: replay assumes it is as fast as this machine")
    return 1.0


def recorded_splits(cond: Conditions) -> list[int]:
    """The splits a fixed policy served at in the recording (none for an adaptive one)."""
    if cond.policy not in FIXED:
        return []
    return sorted({r.split for r in cond.served})


def live_run(cond: Conditions) -> Run:
    """The recorded frames as a simulator run: latency from the camera stamp, on the robot's clock."""
    served = cond.served
    start = np.array([r.at_s - r.e2e_ms / 1e3 for r in served])
    split = np.array([r.split for r in served], dtype=int)
    dropped = sum(r.status == Status.DROPPED for r in cond.frames)
    return Run(f'live ({cond.policy or "recorded"})', start, start, split, np.array([r.e2e_ms for r in served]),
               split, np.zeros(len(served), dtype=bool), dropped, float('nan'), seconds=cond.duration_s,
               codec=tuple(r.codec for r in served))


def replay(cond: Conditions, profile: SimProfile, policies) -> tuple[dict[str, Run], dict[str, dict], list[str]]:
    """Every policy (and the oracle, and each split a fixed policy was recorded at) through the recorded
    conditions, the live run last; their runs, ``summarize`` rows and the assumptions made.
    """
    sc, notes = scenario(cond, profile)
    runs = run_all(sc, policies)
    for k in recorded_splits(cond):
        if k not in profile.space.splits:
            notes.append(f'split {k} was recorded but is not a split of the profiled model; not replayed')
            continue
        run, = simulate_fixed(sc, [k])
        run.policy = f'split {k} (as recorded)'
        runs[f'split {k}'] = run
    runs['live'] = live_run(cond)
    summary = summarize(runs, sc.change_times(), profile.space.num_layers)
    live = summary['live']
    live.update(convergence_frames_median=None, convergence_seconds_median=None, switches=runs['live'].switches)
    return runs, summary, notes


def prediction(summary: dict[str, dict], cond: Conditions) -> tuple[str, float] | None:
    """(row, predicted / live - 1) for the replay of the policy that was recorded (None when not replayed)."""
    splits = recorded_splits(cond)
    row = f'split {splits[0]}' if len(splits) == 1 else cond.policy
    if row not in summary:
        return None
    return row, summary[row]['mean_ms'] / summary['live']['mean_ms'] - 1
