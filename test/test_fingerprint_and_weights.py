"""Fingerprints pair identical models only; local weights files are honoured."""

import json
import subprocess
import sys

import pytest
import torch

from partnner_ros.core.model.zoo import load_model, sample_input

FINGERPRINT_SCRIPT = '''
import json, sys, torch
torch.set_num_threads(int(sys.argv[2]))
from partnner_ros.core.model.zoo import load_model
print(json.dumps([load_model(n).fingerprint for n in sys.argv[1].split(",")]))
'''


def test_fingerprints_are_stable_across_processes(get_model):
    names = ['yolov8n', 'resnet18', 'ssdlite320_mobilenet_v3_large']
    here = [get_model(n).fingerprint for n in names]
    for threads in (1, 2):
        out = subprocess.run([sys.executable, '-c', FINGERPRINT_SCRIPT, ','.join(names), str(threads)],
                             check=True, capture_output=True, text=True).stdout
        assert json.loads(out.strip().splitlines()[-1]) == here
    assert len(set(here)) == 3 and all(len(f) == 16 for f in here)


def test_fingerprint_differs_for_other_weights_or_input_size(get_model):
    base = get_model('resnet18')
    assert get_model('resnet18', seed=1).fingerprint != base.fingerprint
    assert load_model('resnet18', input_size=192).fingerprint != base.fingerprint
    assert get_model('yolov8n').fingerprint != get_model('yolo11n').fingerprint


def test_torchvision_weights_file_is_used(tmp_path, get_model):
    import torchvision
    torch.manual_seed(123)
    net = torchvision.models.resnet18(weights=None).eval()
    for m in net.modules():  # non-trivial BN statistics, to exercise conv-BN fusion
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    path = tmp_path / 'resnet18.pth'
    torch.save(net.state_dict(), path)
    model = load_model('resnet18', weights=str(path))
    assert not model.random_weights
    assert model.fingerprint != get_model('resnet18').fingerprint
    x = sample_input(model.input_shape, seed=5)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        want = net((x - mean) / std)
    got = model.forward(x)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))
    assert load_model('resnet18', weights=str(path)).fingerprint == model.fingerprint


def test_ultralytics_checkpoint_is_used(tmp_path):
    from ultralytics.nn.tasks import DetectionModel
    torch.manual_seed(7)
    det = DetectionModel('yolov8n.yaml', verbose=False).eval()
    path = tmp_path / 'custom.pt'
    torch.save({'model': det, 'train_args': {}}, path)
    model = load_model(str(path))
    assert model.name == 'custom' and not model.random_weights
    x = sample_input(model.input_shape, seed=2)
    with torch.no_grad():
        want = det(x)[0]
    got = model.forward(x)
    assert torch.allclose(got, want, rtol=1e-3, atol=1e-3 * float(want.abs().max()))


def test_missing_weights_file_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match='nothing is downloaded'):
        load_model('resnet18', weights='/nonexistent/resnet18.pth')
    with pytest.raises(FileNotFoundError, match='nothing is downloaded'):
        load_model('/nonexistent/yolov8n.pt')
    with pytest.raises(ValueError, match='unknown model'):
        load_model('not_a_model')
