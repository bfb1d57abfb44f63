"""The installed partnner executable: models, profile --json and verify."""

import json
import shutil
import subprocess

import pytest

PARTNNER = shutil.which('partnner')


def run(*args):
    assert PARTNNER, 'the partnner executable is not on PATH (is the colcon install sourced?)'
    return subprocess.run([PARTNNER, *args], capture_output=True, text=True, timeout=600)


def test_models_lists_the_zoo():
    out = run('models', '--json')
    assert out.returncode == 0
    names = {m['name'] for m in json.loads(out.stdout)}
    assert {'yolov8n', 'yolo11n', 'resnet18', 'resnet50', 'mobilenet_v3_large', 'efficientnet_b0', 'vgg16',
            'ssdlite320_mobilenet_v3_large'} == names


def test_profile_json_reports_yolov8n_cuts():
    out = run('profile', 'yolov8n', '--json', '--repeats', '1', '--codec', 'fp32', '--codec', 'int8+zstd',
              '--codec', 'jpeg')
    assert out.returncode == 0, out.stderr
    prof = json.loads(out.stdout)
    cuts = {c['split']: c for c in prof['cuts']}
    assert prof['num_layers'] == 23 and sorted(cuts) == list(range(24))
    for k in (4, 5):
        assert [t['shape'] for t in cuts[k]['live']] == [[1, 64, 80, 80]]
        assert cuts[k]['bytes']['fp32'] == 1_638_400
        assert cuts[k]['bytes']['int8+zstd'] < 409_600
    assert cuts[0]['bytes']['jpeg'] < 300_000 and 'jpeg' not in cuts[4]['bytes']
    assert cuts[23]['bytes'] == {} and cuts[23]['cloud_ms'] == 0
    assert all(c['edge_ms'] + c['cloud_ms'] == pytest.approx(prof['total_ms']) for c in prof['cuts'])
    assert all(layer['ms'] > 0 for layer in prof['layers'])


def test_profile_rejects_unknown_codec():
    out = run('profile', 'resnet18', '--codec', 'fp64')
    assert out.returncode == 2 and 'unknown codec' in out.stderr


def test_verify_passes_and_reports():
    out = run('verify', 'ssdlite320_mobilenet_v3_large')
    assert out.returncode == 0, out.stdout + out.stderr
    assert '25/25 splits match the full forward (bit-exact)' in out.stdout
    bad = run('verify', 'resnet18', '--splits', '999')
    assert bad.returncode == 2 and 'no split' in bad.stderr
