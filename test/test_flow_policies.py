"""ROS-free pieces of the running system: frame flow, cloud health, policies, sources."""

import threading
import time

import numpy as np
import pytest

from partnner_ros.core.adaptation.frames import FrameRecord, Status
from partnner_ros.core.adaptation.health import CloudHealth
from partnner_ros.core.adaptation.policies import make_policy
from partnner_ros.core.adaptation.stats import RollingStats
from partnner_ros.core.vision.sources import Synthetic, bundled_images, open_source
from partnner_ros.core.wire.flow import InFlight, LatestSlot


def test_latest_slot_reports_stale_items_and_waits_for_ready():
    slot = LatestSlot()
    assert slot.put(1) is None
    assert slot.put(2) == 1  # 1 was never taken: stale
    ready = threading.Event()
    got = []
    t = threading.Thread(target=lambda: got.append(slot.take(ready.is_set, timeout=2)))
    t.start()
    time.sleep(0.1)
    assert not got  # an item is there, but not ready
    ready.set()
    slot.wake()
    t.join()
    assert got == [2]
    assert slot.take(timeout=0.05) is None
    slot.put(3)
    assert slot.close() == 3 and slot.take(timeout=0.05) is None


def test_in_flight_resolves_and_expires_in_order():
    f = InFlight()
    f.add(1, 0.0, 'a')
    f.add(2, 1.0, 'b')
    f.add(3, 2.0, 'c')
    assert f.resolve(2, lambda info: info == 'x') is None  # same seq, another frame
    assert f.resolve(2) == 'b' and f.resolve(2) is None
    assert f.expire(now=2.5, timeout=1.0) == [(1, 'a')]
    assert len(f) == 1 and f.drain() == [(3, 'c')] and len(f) == 0


def test_cloud_health_deadline_and_backoff():
    h = CloudHealth(deadline_s=2.0)
    assert not h.alive(0.0) and 'no heartbeat' in h.reason
    h.heartbeat(0.0)
    assert h.alive(1.0)
    assert not h.alive(1.6), 'silence is detected before the 2 s deadline'
    h.heartbeat(10.0)
    h.lost(10.0, 'frame 4 lost')
    assert not h.alive(10.5) and h.reason == 'frame 4 lost'
    h.heartbeat(12.0)
    assert h.alive(12.1)  # backoff of 2 s over
    h.lost(12.1, 'again')
    h.heartbeat(15.0)
    assert not h.alive(15.0)  # the backoff doubled to 4 s
    h.heartbeat(16.2)
    assert h.alive(16.2)
    h.served()
    assert h.backoff_s == 0


def test_static_policies():
    assert make_policy('edge_only', 23).choose()[0] == 23
    assert make_policy('cloud_only', 23).choose()[0] == 0
    fixed = make_policy('fixed', 23, 5)
    fixed.observe(FrameRecord(0, 5, Status.OK, 1000, 100.0, 20.0, 50.0))
    assert fixed.choose() == (5, 'fixed split 5 set by the user')
    with pytest.raises(ValueError, match=r'\[0, 23\]'):
        make_policy('fixed', 23, 24)
    with pytest.raises(ValueError, match='unknown policy'):
        make_policy('best', 23)


def test_transfer_time_is_what_the_durations_leave():
    r = FrameRecord(0, 5, Status.OK, 1000, e2e_ms=100.0, edge_ms=30.0, cloud_ms=50.0)
    assert r.transfer_ms == 20.0
    assert FrameRecord(0, 5, Status.OK, 0, 10.0, 30.0, 0.0).transfer_ms == 0.0


def test_rolling_stats():
    s = RollingStats(4)
    for v in (1, 2, 3, 4, 100):
        s.add(v)
    assert len(s) == 4 and s.last == 100 and s.mean == pytest.approx(27.25)
    assert s.p95 > 80


def test_frame_sources(tmp_path):
    syn = Synthetic(64, 48)
    a, b = syn.next(), syn.next()
    syn.rewind()
    assert np.array_equal(syn.next(), a) and not np.array_equal(a, b) and a.shape == (48, 64, 3)
    assert len(bundled_images()) >= 2
    bundled = open_source('bundled')
    frames = [bundled.next() for _ in range(len(bundled_images()))]
    assert all(f.ndim == 3 and f.shape[2] == 3 for f in frames) and bundled.next() is None
    import cv2
    for i in range(3):
        cv2.imwrite(str(tmp_path / f'{i}.png'), np.full((8, 8, 3), i * 50, np.uint8))
    folder = open_source(str(tmp_path))
    assert [int(folder.next()[0, 0, 0]) for _ in range(3)] == [0, 50, 100]
    video = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 5, (32, 24))
    for i in range(4):
        writer.write(np.full((24, 32, 3), 60 * i, np.uint8))
    writer.release()
    clip = open_source(str(video))
    count = 0
    while clip.next() is not None:
        count += 1
    assert count == 4
    clip.rewind()
    assert clip.next().shape == (24, 32, 3)
    with pytest.raises(ValueError, match='no such file'):
        open_source(str(tmp_path / 'missing.mp4'))
