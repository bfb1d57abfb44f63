"""A pipeline over DDS: the edge runs layers [0, 5), a middle stage (the cloud node
with stop=12) runs [5, 12) and forwards the tensors, and the last stage runs the rest.
The detections are the full model's."""

import pytest
from ros_system import System
from test_system_detector import CONF, MODEL, assert_same_detections, boxes_of, local_detections

from partnner_ros.core.adaptation.frames import Status
from partnner_ros.core.wire import codec
from partnner_ros.msg import Features
from partnner_ros.nodes.messages import wire_to_msg


@pytest.fixture(scope='module')
def pipeline(ros, tmp_path_factory):
    s = System(tmp_path_factory.mktemp('logs'), model=MODEL, threads=1, conf=CONF)
    s.start('cloud', name='stage_1', stop=12, codec='fp32',
            remap={'features_out': 'features_1', 'cloud_status': 'stage_1/status'})
    s.start('cloud', remap={'features': 'features_1'})
    s.start('edge', codec='fp32', input_codec='fp32')
    s.start('partition_manager', policy='fixed', split=5)
    try:
        s.wait_ready(split=5)
        yield s
    finally:
        s.stop()


def test_three_stage_pipeline_gives_the_full_models_detections(pipeline, get_model, photos):
    frames = [photos[i % len(photos)] for i in range(4)]
    pipeline.run_frames(frames)  # one at a time: the edge drops a frame when a newer one waits
    pipeline.spin_until(lambda: len(pipeline.results) >= len(frames), 30, 'results')
    assert [r.header for r in pipeline.results] == pipeline.sent_headers
    for t in pipeline.timings.values():
        # the last stage's record: it received the frame at the middle stage's split
        assert t.status == Status.OK and t.split == 12, t.error
    local = get_model(MODEL)
    for rgb, msg in zip(frames, pipeline.results):
        assert_same_detections(boxes_of(msg), local_detections(local, rgb))
    assert sum(len(r.detections) for r in pipeline.results) > 0


def test_a_stage_rejects_features_beyond_its_stop_and_serves_the_next_frame(pipeline, get_model, photos):
    local = get_model(MODEL)
    x, meta = local.preprocess(photos[0])

    def features(split, seq):
        live = zip(local.live_names(split), local.head(x, split))
        return Features(model_fingerprint=local.fingerprint, split=split, codec='fp32', frame_seq=seq,
                        tensors=[wire_to_msg(codec.encode(n, t, 'fp32')) for n, t in live],
                        image_width=meta.width, image_height=meta.height, scale_x=meta.scale_x,
                        scale_y=meta.scale_y, pad_x=meta.pad_x, pad_y=meta.pad_y)

    pub = pipeline.features_publisher(features(5, 900_002))
    late = features(14, 20_000)
    pub.publish(late)
    pipeline.spin_until(lambda: 20_000 in pipeline.timings, 10, 'the verdict')
    verdict = pipeline.timings[20_000]
    assert verdict.status == Status.REJECTED and 'not servable' in verdict.error
    start = len(pipeline.sent_headers)
    pipeline.run_frames([photos[1]])
    assert pipeline.timings[start].status == Status.OK
