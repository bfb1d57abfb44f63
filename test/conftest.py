"""Shared test set-up: an isolated DDS domain, offline ultralytics, cached models."""

import os
import random
from pathlib import Path

import pytest

# Concurrent runs on one machine (CI beside a demo, two checkouts) must not hear
# each other: each test session gets its own domain, discovery stays on this host.
os.environ['ROS_DOMAIN_ID'] = os.environ.get('PARTNNER_TEST_DOMAIN_ID', str(random.Random(os.getpid()).randint(1, 101)))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
# Large images over best-effort DDS need bigger socket buffers (see config/fastdds.xml).
os.environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', str(Path(__file__).parent.parent / 'config' / 'fastdds.xml'))
for key, value in (('YOLO_OFFLINE', '1'), ('YOLO_AUTOINSTALL', '0'), ('YOLO_VERBOSE', '0')):
    os.environ.setdefault(key, value)

_models = {}


@pytest.fixture(scope='session')
def get_model():
    """Build each (name, seed) once per session; models are read-only in tests."""
    from partnner_ros.core.model.zoo import load_model

    def get(name, seed=0):
        if (name, seed) not in _models:
            _models[name, seed] = load_model(name, seed=seed)
        return _models[name, seed]
    return get


@pytest.fixture(scope='session')
def ros():
    import rclpy
    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture(scope='session')
def photos():
    """Real photos, resized to a 640x480 camera, RGB."""
    import cv2

    from partnner_ros.core.vision.sources import open_source
    source = open_source('bundled')
    out = []
    while (frame := source.next()) is not None:
        out.append(cv2.resize(frame, (640, 480)))
    return out
