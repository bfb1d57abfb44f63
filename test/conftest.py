"""Shared test set-up: an isolated DDS domain, offline ultralytics, cached models."""

import os
import random

import pytest

# Concurrent runs on one machine (CI beside a demo, two checkouts) must not hear
# each other: each test session gets its own domain, discovery stays on this host.
os.environ['ROS_DOMAIN_ID'] = os.environ.get('PARTNNER_TEST_DOMAIN_ID', str(random.Random(os.getpid()).randint(1, 101)))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
for key, value in (('YOLO_OFFLINE', '1'), ('YOLO_AUTOINSTALL', '0'), ('YOLO_VERBOSE', '0')):
    os.environ.setdefault(key, value)

_models = {}


@pytest.fixture(scope='session')
def get_model():
    """Build each (name, seed) once per session; models are read-only in tests."""
    from partnner_ros.core.models import load_model

    def get(name, seed=0):
        if (name, seed) not in _models:
            _models[name, seed] = load_model(name, seed=seed)
        return _models[name, seed]
    return get
