"""The generated interfaces import and survive rclpy (CDR) serialization."""

import numpy as np
import torch
from rclpy.serialization import deserialize_message, serialize_message

from partnner_ros.core.wire.codec import encode
from partnner_ros.msg import (
    Classification,
    Detection2D,
    Detection2DArray,
    Features,
    FrameTiming,
    ObjectHypothesis,
    ObjectHypothesisWithPose,
    PartitionState,
    Tensor,
)


def test_features_round_trip():
    wire = encode('v4', torch.randn(1, 64, 80, 80), 'fp16+lz4')
    msg = Features()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 12, 345
    msg.header.frame_id = 'camera_optical'
    msg.frame_seq = 2 ** 40
    msg.model_fingerprint = 'abcdef0123456789'
    msg.split = 4
    msg.codec = 'fp16+lz4'
    msg.tensors = [Tensor(name=wire.name, dtype=wire.dtype, shape=list(wire.shape), scale=wire.scale,
                          zero_point=wire.zero_point, compression=wire.compression,
                          raw_size=wire.raw_size, data=wire.data)]
    msg.image_width, msg.image_height = 1280, 720
    msg.scale_x = msg.scale_y = 0.5
    msg.pad_y = 140.0
    msg.edge_compute_ms = 12.5
    back = deserialize_message(serialize_message(msg), Features)
    assert back == msg
    t = back.tensors[0]
    assert list(t.shape) == [1, 64, 80, 80] and t.compression == 'lz4'
    assert bytes(np.frombuffer(t.data, np.uint8)) == wire.data


def test_results_and_state_round_trip():
    det = Detection2D()
    det.bbox.center.position.x, det.bbox.center.position.y = 100.5, 50.25
    det.bbox.size_x, det.bbox.size_y = 20.0, 40.0
    det.results = [ObjectHypothesisWithPose()]
    det.results[0].hypothesis.class_id, det.results[0].hypothesis.score = 'person', 0.87
    arr = Detection2DArray(detections=[det, det])
    arr.header.frame_id = 'cam'
    cls = Classification(results=[ObjectHypothesis(class_id='tabby', score=0.5)])
    timing = FrameTiming(frame_seq=9, split=23, payload_bytes=0, cloud_compute_ms=3.5)
    state = PartitionState(policy='fixed', split=5, num_layers=23, cloud_alive=True,
                           bandwidth_bps=2.0e7, reason='set by user')
    for msg in (arr, cls, timing, state):
        assert deserialize_message(serialize_message(msg), type(msg)) == msg
