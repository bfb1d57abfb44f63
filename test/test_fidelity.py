"""Codec fidelity against fp32 on real photos and real (seeded) models: fp32 is exact, a destructive
codec scores lower than fp16, the metrics are shares in [0, 1], and a profile carries them to
:class:`Profile`, which reads them back (and still reads profiles without them)."""

import json

import pytest

from partnner_ros.core.model import fidelity
from partnner_ros.core.model.profile_data import Profile
from partnner_ros.core.model.profiler import profile
from partnner_ros.core.vision.postprocess import Detection

CUTS = [4, 8, 15, 22]  # yolov8n: backbone, deeper backbone, neck, just before the head


@pytest.fixture(scope='module')
def photos2():
    return fidelity.fidelity_images(2)


@pytest.fixture(scope='module')
def yolo(get_model, photos2):
    model = get_model('yolov8n')
    return fidelity.measure(model, ['fp32', 'fp16+lz4', 'int8+zstd', 'jpeg@90', 'jpeg@1'], photos2, [0, *CUTS])


def test_the_photos_are_real_distinct_and_deterministic():
    photos = fidelity.fidelity_images()
    assert len(photos) == fidelity.IMAGES and len({p.name for p in photos}) == len(photos)
    assert [p.name for p in photos][:2] == ['bus.jpg', 'zidane.jpg']
    again = fidelity.fidelity_images()
    assert all((a.rgb == b.rgb).all() for a, b in zip(photos, again))


def test_each_codec_is_measured_where_it_applies(yolo):
    assert sorted(yolo) == [0, *CUTS]
    assert set(yolo[0]) == {'jpeg@90', 'jpeg@1'}  # jpeg only carries the image
    for k in CUTS:
        assert set(yolo[k]) == {'fp32', 'fp16+lz4', 'int8+zstd'}
        assert set(yolo[k]['fp16+lz4']) == {'agreement', 'score_drift'}


def test_fp32_is_exact(yolo):
    for k in CUTS:
        assert yolo[k]['fp32'] == {'agreement': 1.0, 'score_drift': 0.0}


def test_a_destructive_codec_scores_lower_than_fp16(yolo):
    fp16 = min(yolo[k]['fp16+lz4']['agreement'] for k in CUTS)
    assert fp16 >= 0.99
    assert yolo[0]['jpeg@1']['agreement'] < yolo[0]['jpeg@90']['agreement'] <= 1.0
    assert yolo[0]['jpeg@1']['agreement'] < fp16 - 0.1
    assert yolo[0]['jpeg@1']['score_drift'] > yolo[0]['jpeg@90']['score_drift']
    for k in CUTS:  # int8 moves the scores more than fp16 does, at every cut
        assert yolo[k]['int8+zstd']['score_drift'] > yolo[k]['fp16+lz4']['score_drift'] > 0
        assert 0 <= yolo[k]['int8+zstd']['agreement'] <= 1


def test_detection_agreement_matches_same_class_overlapping_boxes():
    a, b = Detection(0, 0.9, (0, 0, 10, 10)), Detection(1, 0.5, (20, 20, 40, 40))
    assert fidelity.detection_agreement([], []) == (1.0, 0, 0.0)
    assert fidelity.detection_agreement([a], []) == (0.0, 0, 0.0)
    assert fidelity.detection_agreement([a, b], [a, b]) == (1.0, 2, 0.0)
    shifted = Detection(0, 0.8, (1, 0, 11, 10))  # IoU 9/11
    assert fidelity.detection_agreement([a], [shifted]) == pytest.approx((1.0, 1, 0.1))
    assert fidelity.detection_agreement([a], [Detection(2, 0.9, a.box)])[1] == 0  # another class
    assert fidelity.detection_agreement([a], [Detection(0, 0.9, (5, 0, 15, 10))])[1] == 0  # IoU 1/3
    # one reference box, two candidates: only one match, and the better overlap wins
    agreement, matches, drift = fidelity.detection_agreement([a, b], [shifted, a])
    assert (agreement, matches, drift) == (0.5, 1, 0.0)  # 2 * 1 match / (2 + 2) boxes


def test_classifier_metrics_are_shares_and_fp16_keeps_the_top1(get_model, photos2):
    model = get_model('resnet18')
    splits = [0, 5, 20, model.num_layers - 1]
    result = fidelity.measure(model, ['fp16+lz4', 'int8', 'jpeg@1'], photos2, splits)
    assert set(result) == set(splits) and set(result[0]) == {'jpeg@1'}
    for k, row in result.items():
        for metrics in row.values():
            assert set(metrics) == {'top1', 'top5', 'score_drift'}
            assert 0 <= metrics['top1'] <= 1 and 0 <= metrics['top5'] <= 1 and 0 <= metrics['score_drift'] <= 1
        if k:
            assert row['fp16+lz4']['top1'] == 1.0 and row['fp16+lz4']['top5'] == 1.0
            assert row['int8']['score_drift'] >= row['fp16+lz4']['score_drift']


def test_a_profile_carries_the_fidelity_and_profile_data_reads_it(get_model):
    model = get_model('resnet18')
    measured = json.loads(json.dumps(profile(model, ['fp32', 'fp16+lz4', 'int8+zstd', 'jpeg', 'jpeg@50'], repeats=1)))
    p = Profile.parse(measured)
    n = p.num_layers
    assert p.task == 'classify' and p.fidelity_bound == 0.99
    assert measured['fidelity']['metric'] == 'top1' and len(measured['fidelity']['images']) == fidelity.IMAGES
    assert p.fidelity(0, 'jpeg@50') == measured['cuts'][0]['fidelity']['jpeg@50']['top1']
    assert p.fidelity(0, 'jpeg') is not None and p.fidelity(0, 'fp16+lz4') is None  # jpeg only at 0
    assert p.fidelity(5, 'jpeg') is None and p.fidelity(5, 'fp16') is None  # not applicable, not profiled
    assert p.fidelity_metrics(5, 'fp32') == {'top1': 1.0, 'top5': 1.0, 'score_drift': 0.0}  # lossless
    assert measured['fidelity']['lossless'] == ['fp32']
    assert all(p.fidelity(k, 'fp16+lz4') == 1.0 for k in p.splits[1:])
    assert all(0 <= p.fidelity(k, 'int8+zstd') <= 1 for k in p.splits[1:])
    assert set(p.fidelity_metrics(5, 'int8+zstd')) == {'top1', 'top5', 'score_drift'}
    assert p.fidelity(n, 'int8') == 1.0  # nothing crosses the last split
    # a profile from before fidelity (or --no-fidelity) still reads, with no figures
    old = {k: v for k, v in measured.items() if k not in ('fidelity', 'task')}
    old['cuts'] = [{k: v for k, v in cut.items() if k != 'fidelity'} for cut in measured['cuts']]
    q = Profile.parse(old)
    assert q.task == 'detect' and q.fidelity(5, 'fp16+lz4') is None and q.fidelity_metrics(5, 'fp16+lz4') == {}
    pay = q.payloads(lambda k: 'jpeg@50' if k == 0 else 'int8+zstd')
    assert pay.bytes[0] == measured['cuts'][0]['bytes']['jpeg@50'] < measured['cuts'][0]['bytes']['jpeg']
