"""The live system with yolov8n: real nodes as processes, real messages over DDS."""

import dataclasses
import time

import numpy as np
import pytest
import rclpy
from rclpy.qos import DurabilityPolicy
from ros_system import System

from partnner_ros.core.adaptation.frames import Status
from partnner_ros.core.vision.postprocess import DetectionSettings
from partnner_ros.core.wire import codec
from partnner_ros.msg import Features, PartitionState
from partnner_ros.nodes import qos
from partnner_ros.nodes.messages import wire_to_msg

MODEL = 'yolov8n'
N_LAYERS = 23
CONF = 0.05


@pytest.fixture(scope='module')
def system(ros, tmp_path_factory):
    s = System(tmp_path_factory.mktemp('logs'), model=MODEL, threads=1, conf=CONF)
    s.start('cloud')
    s.start('edge', codec='fp32', input_codec='fp32')
    s.start('partition_manager', policy='fixed', split=5)
    try:
        s.wait_ready(split=5)
        yield s
    finally:
        s.stop()


@pytest.fixture(scope='module')
def local(get_model):
    return get_model(MODEL)


def boxes_of(msg):
    return sorted((d.results[0].hypothesis.class_id, round(d.results[0].hypothesis.score, 3),
                   d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x, d.bbox.size_y)
                  for d in msg.detections)


def local_detections(model, rgb):
    x, meta = model.preprocess(rgb)
    dets = model.postprocess(model.forward(x), meta, DetectionSettings(conf=CONF))
    return sorted((model.label(d.class_id), round(d.score, 3), (d.box[0] + d.box[2]) / 2,
                   (d.box[1] + d.box[3]) / 2, d.box[2] - d.box[0], d.box[3] - d.box[1]) for d in dets)


def assert_same_detections(got, want):
    assert len(got) == len(want), (len(got), len(want))
    for g, w in zip(got, want):
        assert g[0] == w[0] and abs(g[1] - w[1]) <= 0.002
        assert np.allclose(g[2:], w[2:], atol=0.05), (g, w)


@pytest.mark.parametrize('split', [0, 5, 12, N_LAYERS])
def test_every_frame_answered_with_camera_header_and_local_results(system, local, photos, split):
    assert system.set_params('partition_manager', split=split)[0].successful
    system.wait_ready(split=split)
    first = len(system.results)
    start = len(system.sent_headers)
    frames = [photos[i % len(photos)] for i in range(6)]
    system.run_frames(frames)
    system.spin_until(lambda: len(system.results) >= first + len(frames), 30, 'results')
    results = system.results[first:]
    sent = system.sent_headers[start:]
    assert [r.header for r in results] == sent  # stamp and frame_id preserved, in order
    for seq in range(start, start + len(frames)):
        t = system.timings[seq]
        assert t.status == Status.OK and t.split == split, t.error
        assert (t.payload_bytes == 0) == (split == N_LAYERS)
        assert t.edge_compute_ms > 0 and (t.cloud_compute_ms > 0) == (split < N_LAYERS)
    for rgb, msg in zip(frames, results):
        assert_same_detections(boxes_of(msg), local_detections(local, rgb))
    assert sum(len(r.detections) for r in results) > 0


def test_split_changes_mid_stream_lose_no_frame(system, photos):
    """The split changes while a frame is in flight (in the edge or at the cloud): the frame is
    served at the split it was sent with, and the next one at the new split."""
    splits = [3, 9, N_LAYERS, 0, 16, 5]
    start = len(system.sent_headers)
    changes = []

    def change_while_in_flight(i):
        if i % 3 == 0:
            changes.append(system.set_params_async('partition_manager', split=splits[i // 3 % len(splits)]))
    system.run_frames([photos[i % len(photos)] for i in range(18)], after=change_while_in_flight)
    system.spin_until(lambda: all(f.done() for f in changes), 10, 'the split changes')
    got = [system.timings[s] for s in range(start, start + 18)]
    assert all(t.status == Status.OK for t in got), [t.error for t in got if t.status != Status.OK]
    assert len({t.split for t in got}) >= 4


def test_malformed_features_are_rejected_and_the_next_frame_served(system, local, photos):
    x, meta = local.preprocess(photos[0])
    live = local.head(x, 5)
    good = Features(model_fingerprint=local.fingerprint, split=5, codec='fp32',
                    tensors=[wire_to_msg(codec.encode('v5', live[0], 'fp32'))],
                    image_width=meta.width, image_height=meta.height, scale_x=meta.scale_x,
                    scale_y=meta.scale_y, pad_x=meta.pad_x, pad_y=meta.pad_y)
    wire = codec.encode('v5', live[0], 'fp32')
    cases = {
        'wrong byte count': dict(tensors=[wire_to_msg(dataclasses.replace(wire, data=wire.data[:-4]))]),
        'wrong shape': dict(tensors=[wire_to_msg(dataclasses.replace(
            wire, shape=(1, 64, 80, 81), raw_size=4 * 64 * 80 * 81))]),
        'foreign fingerprint': dict(model_fingerprint='0123456789abcdef'),
        'unknown codec': dict(codec='fp64'),
    }
    expect = {'wrong byte count': 'TruncatedPayload', 'wrong shape': 'ShapeMismatch',
              'foreign fingerprint': 'foreign model', 'unknown codec': 'UnknownCodec'}
    fields = {f: getattr(good, f) for f in good.get_fields_and_field_types()}
    pub = system.features_publisher(Features(**{**fields, 'frame_seq': 900_000}))
    for i, (name, change) in enumerate(cases.items()):
        seq = 10_000 + i
        msg = Features(**{**fields, **change})
        msg.frame_seq = seq
        pub.publish(msg)
        system.spin_until(lambda seq=seq: seq in system.timings, 10, f'the verdict on {name}')
        verdict = system.timings[seq]
        assert verdict.status == Status.REJECTED and expect[name] in verdict.error, (name, verdict.error)
    start = len(system.sent_headers)
    system.run_frames([photos[0]])
    assert system.timings[start].status == Status.OK
    system.spin_until(lambda: system.diagnostic('cloud').get('rejected') == '4', 5,
                      'the cloud diagnostics to count 4 rejections')
    log = next(system.log_dir.glob('cloud-*.log')).read_text()
    assert log.count('foreign model') == 1  # logged once per kind


def test_bad_parameters_are_rejected_and_the_node_keeps_serving(system, photos):
    for node, params in (('edge', {'split': 99}), ('edge', {'codec': 'fp64'}),
                         ('partition_manager', {'split': N_LAYERS + 1}), ('partition_manager', {'policy': 'x'}),
                         ('edge', {'max_in_flight': 0})):
        result = system.set_params(node, **params)[0]
        assert not result.successful and result.reason, (node, params)
    start = len(system.sent_headers)
    system.run_frames([photos[1]])
    assert system.timings[start].status == Status.OK


def test_diagnostics_from_edge_cloud_and_manager(system):
    names = ('edge', 'cloud', 'partition_manager')
    system.spin_until(lambda: all(system.diagnostic(n) for n in names), 5, 'diagnostics from all three nodes')
    edge = system.diagnostic('edge')
    assert edge['model'] == MODEL and int(edge['frames_in']) > 0 and edge['cameras'] == '1'


def test_state_is_latched_with_statistics(system, photos):
    """A node that subscribes after the state was published gets it at once, with the
    statistics of the frames served so far."""
    system.run_frames([photos[0], photos[1]])
    system.spin_until(lambda: system.state().frames_done >= 2, 5, 'the manager to count the frames')
    late = rclpy.create_node('late_subscriber', namespace=system.ns)
    try:
        offered = late.get_publishers_info_by_topic(f'{system.ns}/partition_state')
        assert [i.qos_profile.durability for i in offered] == [DurabilityPolicy.TRANSIENT_LOCAL]
        got = []
        late.create_subscription(PartitionState, 'partition_state', got.append, qos.STATE)
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            rclpy.spin_once(late, timeout_sec=0.02)
    finally:
        late.destroy_node()
    state = got[0]
    assert state.policy == 'fixed' and state.num_layers == N_LAYERS and state.frames_done >= 2
    assert state.e2e_mean_ms > 0 and state.e2e_p95_ms >= state.e2e_mean_ms * 0.5
    assert state.model_fingerprint == system.get_param('edge', 'model_fingerprint')
