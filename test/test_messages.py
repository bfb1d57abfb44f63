"""The conversions between core values and the package's messages keep every field
through CDR serialization (what DDS sends), so what the cloud decodes and what the
robot accounts is what the sender meant."""

import pytest
import torch
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import Header

from partnner_ros.core.adaptation.frames import Status, record_from_timing, stamp_ns
from partnner_ros.core.vision.postprocess import ClassScore, Detection
from partnner_ros.core.wire.codec import decode, encode
from partnner_ros.core.wire.formats import DecodeError
from partnner_ros.nodes.messages import classification_msg, detections_msg, msg_to_wire, timing_msg, wire_to_msg


def over_dds(msg):
    return deserialize_message(serialize_message(msg), type(msg))


@pytest.mark.parametrize('codec', ['fp32', 'fp16+lz4', 'int8', 'int8+zstd'])
def test_a_tensor_decodes_to_what_was_encoded_after_the_wire(codec):
    x = torch.randn(1, 64, 20, 20)
    wire = encode('v4', x, codec)
    back = msg_to_wire(over_dds(wire_to_msg(wire)))
    assert back == back.__class__(**{**vars(wire), 'data': back.data})  # every field but the buffer
    assert bytes(back.data) == bytes(wire.data)
    assert torch.equal(decode(back), decode(wire))
    assert torch.allclose(decode(back), x, atol=0.05 if codec.startswith('int8') else 1e-2)


def test_a_tensor_message_with_an_impossible_shape_is_refused_on_decode():
    msg = wire_to_msg(encode('v4', torch.randn(1, 8, 4, 4), 'fp32'))
    msg.shape = [1, 8, 4, 5]
    with pytest.raises(DecodeError):
        decode(msg_to_wire(over_dds(msg)))


def test_detections_keep_the_camera_header_and_map_corners_to_centres():
    header = Header(frame_id='camera_optical')
    header.stamp.sec, header.stamp.nanosec = 1_700_000_000, 123
    msg = over_dds(detections_msg(header, [Detection(2, 0.87, (10.0, 20.0, 50.0, 100.0))], lambda c: f'c{c}'))
    assert msg.header == header and msg.detections[0].header == header
    d = msg.detections[0]
    assert (d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x, d.bbox.size_y) == (30, 60, 40, 80)
    assert d.results[0].hypothesis.class_id == 'c2' and d.results[0].hypothesis.score == pytest.approx(0.87)
    cls = over_dds(classification_msg(header, [ClassScore(7, 0.5), ClassScore(1, 0.25)], str))
    assert cls.header == header and [(r.class_id, r.score) for r in cls.results] == [('7', 0.5), ('1', 0.25)]


def test_a_frame_record_is_accounted_on_the_robot_clock_from_durations():
    header = Header()
    header.stamp.sec, header.stamp.nanosec = 100, 500_000_000
    timing = timing_msg(header, 2 ** 40, 'abcdef0123456789', 5, 'fp16+lz4', int(Status.OK), payload_bytes=1234,
                        edge=(1.0, 2.0, 30.0, 4.0), cloud=(0.5, 3.0, 20.0, 1.5))
    timing.edge_layer_ms = [6.0] * 5
    record = record_from_timing(over_dds(timing), stamp_ns(header.stamp) + 100_000_000)
    assert (record.seq, record.split, record.status, record.payload_bytes) == (2 ** 40, 5, Status.OK, 1234)
    assert record.e2e_ms == pytest.approx(100.0)
    assert record.edge_ms == pytest.approx(37.0) and record.cloud_ms == pytest.approx(25.0)
    assert record.codec_ms == pytest.approx(7.0) and record.transfer_ms == pytest.approx(38.0)
    assert record.pre_post_ms == pytest.approx(2.0 + 1.5)  # the edge's preprocessing, the cloud's postprocessing
    assert record.edge_layer_ms == (6.0,) * 5 and not record.probe

    # at edge-only the edge's fourth time is its postprocessing, not a codec
    timing = timing_msg(header, 3, 'abcdef0123456789', 23, '', int(Status.OK), edge=(1.0, 2.0, 300.0, 40.0))
    record = record_from_timing(over_dds(timing), stamp_ns(header.stamp) + 400_000_000)
    assert record.codec_ms == 0.0 and record.pre_post_ms == pytest.approx(42.0) and record.transfer_ms < 60
