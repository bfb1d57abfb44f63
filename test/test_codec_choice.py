"""Partnner picks the codec with the split, among the pairs the fidelity bound allows,
and the simulator serves each frame with the chosen codec's true size and cost."""

import numpy as np
from test_adaptive import tiny_profile

from partnner_ros.core.adaptation.partnner import Partnner
from partnner_ros.core.adaptation.split_space import SplitSpace
from partnner_ros.core.simulation.scenario import Platform, Scenario, SimProfile
from partnner_ros.core.simulation.simulator import run_all, simulate
from partnner_ros.core.simulation.traces import Trace


def profile_with_codecs(excluded=frozenset()) -> SimProfile:
    """tiny_profile's model, whose image also goes as jpeg@50 (20 kB, not 50) and features as
    int8+zstd (30 kB, not 100)."""
    tiny = tiny_profile()
    space = SplitSpace(2, (0, 1, 2), [1.0, 3.0], [100_000, 50_000, 0], codec='fp16', input_codec='jpeg',
                       feature_codecs=('fp16', 'int8+zstd'), input_codecs=('jpeg', 'jpeg@50'), excluded=excluded)
    extra = tuple(e for e in ((0, 'jpeg@50', 20_000.0, 1.0, 0.5), (1, 'int8+zstd', 30_000.0, 3.0, 1.5))
                  if (e[0], e[1]) not in excluded)
    return SimProfile('tiny', space, tiny.layer_ms, tiny.bytes, tiny.encode_ms, tiny.decode_ms, 3.0, extra=extra)


def scenario(profile: SimProfile) -> Scenario:
    # 4 Mbit/s: the 50 kB image takes 100 ms and the 20 kB one 40 ms; the robot needs 160 ms
    return Scenario(profile, Platform('p', 4.0, 4.0), Trace.steps([4.0], 100.0), fps=5.0, delay_ms=5.0, noise=0.0,
                    duration_s=30.0)


def test_partnner_sends_the_smaller_image_when_its_fidelity_allows():
    sc = scenario(profile_with_codecs())
    runs = run_all(sc, ('partnner', 'best_static'))
    partnner, oracle = runs['partnner'], runs['oracle']
    assert runs['best_static'].policy == 'best_static (split 0 jpeg@50)'
    assert partnner.codec[-10:] == ('jpeg@50',) * 10 and list(partnner.split[-10:]) == [0] * 10
    assert partnner.mean <= 1.05 * oracle.mean


def test_an_excluded_pair_is_never_used():
    sc = scenario(profile_with_codecs(excluded=frozenset({(0, 'jpeg@50')})))
    run = simulate(sc, Partnner(sc.profile.space))
    assert 'jpeg@50' not in run.codec
    assert set(run.codec[-10:]) == {'jpeg'} and list(run.split[-10:]) == [0] * 10


def test_the_codec_prior_learns_the_real_size():
    space = profile_with_codecs().space
    policy = Partnner(space)
    prior = policy._payload_of('jpeg@50')[0]
    from partnner_ros.core.adaptation.frames import FrameRecord, Status
    policy.observe(FrameRecord(0, 0, Status.OK, 20_000, 80.0, 10.0, 20.0, cloud_compute_ms=10.0, codec='jpeg@50'))
    assert prior != 20_000 and policy._payload_of('jpeg@50')[0] == 20_000
    assert np.isclose(policy._payload_of('jpeg')[0], space.prior_bytes_for('jpeg')[0])
