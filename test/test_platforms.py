"""Platform presets from published latencies, and Neurosurgeon's links (core/simulation/platforms.py)."""

import numpy as np
import pytest

from partnner_ros.core.simulation import platforms as pl
from partnner_ros.core.simulation.scenario import Platform, Scenario, SimProfile, Truth


@pytest.fixture(scope='module')
def resnet18_profile(get_model):
    from partnner_ros.core.model.profiler import profile
    return profile(get_model('resnet18'), ['fp16+lz4', 'jpeg'], repeats=1, fidelity=False)


def test_every_figure_has_a_source_or_a_derivation():
    for device in pl.DEVICES.values():
        for model, figure in device.figures.items():
            where = f'{model} on {device.key}'
            if isinstance(figure, pl.Published):
                assert figure.ms > 0 and figure.source.startswith('https://'), where
                assert figure.input_size and figure.runtime, where
            else:
                assert isinstance(figure, pl.Derived) and figure.rule in ('macs', 'ratio'), where
                assert figure.base in device.figures and figure.base != model, where
                if figure.rule == 'ratio':
                    ref = pl.DEVICES[figure.reference].figures
                    assert isinstance(ref[model], pl.Published) and isinstance(ref[figure.base], pl.Published), where
            assert pl.latency_ms(device.key, model) > 0, where


def test_every_preset_covers_the_report_models():
    for preset in pl.PRESETS.values():
        assert pl.DEVICES[preset.edge].role == 'edge' and pl.DEVICES[preset.server].role == 'server'
        for model in pl.REPORT_MODELS:
            assert pl.latency_ms(preset.edge, model) > 0 and pl.latency_ms(preset.server, model) > 0
    with pytest.raises(ValueError, match='no published or derived latency of vgg16'):
        pl.latency_ms('rpi4', 'vgg16')


def test_derived_figures_follow_their_rule():
    # the SSDlite head on the MobileNetV3 backbone, by MACs
    assert pl.latency_ms('rpi4', 'ssdlite320_mobilenet_v3_large') == pytest.approx(
        47.53 * pl.MACS['ssdlite320_mobilenet_v3_large'] / pl.MACS['mobilenet_v3_large'])
    # YOLO11n on the Pi: the Pi's YOLOv8n times Ultralytics' CPU ratio
    assert pl.latency_ms('rpi4', 'yolo11n') == pytest.approx(1000 / 3.1 * 56.1 / 80.4)
    # ResNet-18 on the T4: the T4's ResNet-50 times the V100's ratio
    assert pl.latency_ms('t4', 'resnet18') == pytest.approx(1.26 * 1.95 / 3.72)


def test_the_macs_are_the_ones_a_profile_counts(resnet18_profile):
    assert sum(layer['macs'] for layer in resnet18_profile['layers']) == pl.MACS['resnet18']


def test_presets_become_sane_per_model_platforms(resnet18_profile):
    this_ms = sum(layer['ms'] for layer in resnet18_profile['layers'])
    pi = pl.preset_platform('rpi4-t4', resnet18_profile)
    assert pi.name == 'rpi4-t4'
    assert pi.edge_slowdown > 1, 'a Raspberry Pi 4 is slower than this machine'
    assert pi.cloud_speedup > 1, 'a T4 is faster than this machine'
    assert this_ms * pi.edge_slowdown == pytest.approx(123.12)
    assert this_ms / pi.cloud_speedup == pytest.approx(pl.latency_ms('t4', 'resnet18'))
    for name in pl.PRESETS:
        p = pl.resolve_platform(name, resnet18_profile)
        # the server is faster than every robot, and by far the most than the Pi's
        assert p.edge_slowdown * p.cloud_speedup > 1
        assert p.edge_slowdown * p.cloud_speedup <= pi.edge_slowdown * pi.cloud_speedup
    # a simulated frame at edge-only costs the published edge latency (plus pre/post, scaled alike)
    sim = SimProfile.from_profile(resnet18_profile)
    sc = Scenario(sim, pi, pl.LINKS['wifi'].trace(10), noise=0.0, duration_s=1.0)
    edge_only = Truth(sc).costs(0, 0.0)[1][-1]
    expected = (this_ms + sim.preprocess_ms + sim.postprocess_ms) * pi.edge_slowdown
    assert edge_only == pytest.approx(expected + sim.encode_ms[-1] * pi.edge_slowdown)


def test_resolve_platform_names():
    assert pl.resolve_platform('edge10x') == Platform('edge10x', 10.0)
    assert pl.resolve_platform('8:2') == Platform('8:2', 8.0, 2.0)
    for bad in ('fast', '0:1', '1:2:3'):
        with pytest.raises(ValueError, match='a platform is one of'):
            pl.resolve_platform(bad)
    with pytest.raises(ValueError, match='needs the model profile'):
        pl.resolve_platform('rpi4-t4')


def test_neurosurgeon_links_are_constant_traces_at_the_cited_rates():
    assert {n: link.mbps for n, link in pl.LINKS.items()} == {'3g': 1.1, 'lte': 5.85, 'wifi': 18.88}
    for link in pl.LINKS.values():
        trace = link.trace(60.0)
        assert trace.period == pytest.approx(60.0) and trace.mean_mbps == pytest.approx(link.mbps)
        assert np.all(trace.rate == link.mbps * 1e6)
        assert trace.change_points() == []
        assert link.delay_ms == link.rtt_ms / 2 > 0
    assert pl.LINKS['3g'].rtt_ms > pl.LINKS['lte'].rtt_ms > pl.LINKS['wifi'].rtt_ms
