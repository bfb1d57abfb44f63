"""The frame ledger counts every camera frame once, sets shadow probes apart, and
gives the per-split statistics the demo, the bench and the tests report."""

import pytest
from std_msgs.msg import Header

from partnner_ros.core.adaptation.frames import Status
from partnner_ros.core.adaptation.ledger import FrameLedger
from partnner_ros.nodes.messages import timing_msg

MS = 1_000_000


def timing(seq, split, status=Status.OK, probe=False, stamp_ms=0, payload=0, edge_ms=10.0, cloud_ms=20.0):
    header = Header()
    header.stamp.sec, header.stamp.nanosec = divmod(stamp_ms * MS, 1_000_000_000)
    msg = timing_msg(header, seq, 'f' * 16, split, 'fp16+lz4', int(status), payload_bytes=payload,
                     edge=(0.0, 0.0, edge_ms, 0.0), cloud=(0.0, 0.0, cloud_ms, 0.0))
    msg.probe = probe
    return msg


def test_a_probe_neither_counts_as_a_frame_nor_replaces_its_outcome():
    ledger = FrameLedger()
    assert ledger.add(timing(0, 5, payload=1000), 100 * MS).e2e_ms == 100.0
    assert ledger.add(timing(0, 23, probe=True), 400 * MS) is None  # the same frame, measured at edge-only
    assert ledger.add(timing(1, 23, probe=True, stamp_ms=50), 60 * MS) is None  # before its frame's record
    ledger.add(timing(1, 5, Status.LOST, stamp_ms=50), 2050 * MS)
    assert len(ledger) == 2 and ledger.probes == 2
    assert ledger.counts[Status.OK] == 1 and ledger.counts[Status.LOST] == 1
    assert ledger.frames[0].split == 5 and ledger.frames[0].e2e_ms == 100.0
    assert [r.seq for r in ledger.ok()] == [0]


def test_per_split_statistics_and_latency_cover_served_frames_only():
    ledger = FrameLedger()
    for seq, (split, e2e) in enumerate([(5, 100), (5, 140), (23, 40), (0, 0)]):
        ledger.add(timing(seq, split, Status.OK if e2e else Status.DROPPED, payload=2000 if split < 23 else 0,
                          cloud_ms=20.0 if split < 23 else 0.0), e2e * MS)
    stats = ledger.per_split()
    assert set(stats) == {5, 23}
    assert stats[5].frames == 2 and stats[5].e2e_ms == 120.0 and stats[5].payload_bytes == 2000
    assert stats[5].compute_ms == 30.0 and stats[5].overhead_ms == 90.0 and stats[5].transfer_ms == 90.0
    assert stats[23].frames == 1 and stats[23].cloud_ms == 0.0
    mean, p95 = ledger.latency()
    assert mean == pytest.approx(280 / 3) and 100 < p95 <= 140
    assert FrameLedger().latency() is None


def test_a_windowed_ledger_keeps_the_newest_frames_and_counts_them_all():
    ledger = FrameLedger(window=3)
    for seq in range(10):
        ledger.add(timing(seq, 5, Status.FAILED if seq == 2 else Status.OK), 50 * MS)
    assert list(ledger.frames) == [7, 8, 9] and len(ledger) == 10
    assert ledger.counts[Status.FAILED] == 1 and ledger.counts[Status.OK] == 9


def test_errors_are_listed_once_each():
    ledger = FrameLedger()
    for seq in range(3):
        msg = timing(seq, 5, Status.REJECTED)
        msg.error = 'ShapeMismatch: tensor v5'
        ledger.add(msg, 0)
    assert ledger.errors() == ['ShapeMismatch: tensor v5']


def test_probes_are_counted_as_server_time_and_uplink_bits_over_the_run():
    ledger = FrameLedger()
    for seq in range(11):  # a frame every 100 ms at edge-only, outcomes from 0.1 s to 1.1 s
        ledger.add(timing(seq, 23, stamp_ms=100 * seq, cloud_ms=0.0), (100 * seq + 100) * MS)
    for seq in (2, 6):  # two image probes, 1000 bytes each, 20 ms on the server
        ledger.add(timing(seq, 0, probe=True, stamp_ms=100 * seq, payload=1000), (100 * seq + 150) * MS)
    ledger.add(timing(4, 0, Status.LOST, probe=True, stamp_ms=400, payload=1000), 1100 * MS)  # no answer: no cost
    assert ledger.probes == 3 and len(ledger) == 11
    assert ledger.probe_spend.server_share == pytest.approx(40.0 / 1000.0)
    assert ledger.probe_spend.bits_per_s == pytest.approx(2 * 8000 / 1.0)
