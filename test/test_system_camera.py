"""The camera source paced by results, as the demo runs it: it waits until outcomes can be heard and
while paused, and a frame nobody answers (the camera topic is best effort) is counted and replaced."""

from ros_system import System
from sensor_msgs.msg import Image

from partnner_ros.core.adaptation.frames import Status
from partnner_ros.msg import FrameTiming
from partnner_ros.nodes import qos
from partnner_ros.nodes.messages import timing_msg


def test_a_paced_camera_waits_for_answers_and_its_release_and_replaces_a_frame_with_none(ros, tmp_path):
    system = System(tmp_path / 'logs')
    images: list = []
    answers: list = []  # the frame-record publisher, once there is one

    def answer_all_but_the_first(msg):
        images.append(msg)
        if len(images) > 1:
            answers[0].publish(timing_msg(msg.header, len(images), '', 0, '', int(Status.OK)))
    system.node.create_subscription(Image, 'image_raw', answer_all_but_the_first, qos.IMAGE_SUB)
    try:
        system.start('camera_source', source='synthetic', width=64, height=48, rate=20.0, max_frames=3,
                     pace_by_results=True, pace_timeout=2.0, min_subscribers=1)
        system.spin_until(lambda: system.diagnostic('camera_source'), 30, 'a camera status')
        system.spin_for(2.0)
        # matched to this node's image subscription, but nobody publishes frame records yet
        assert images == [] and system.diagnostic('camera_source')['frames_sent'] == '0'
        # paused (as the demo starts it) it holds frames even so
        assert system.set_params('camera_source', paused=True)[0].successful
        answers.append(system.node.create_publisher(FrameTiming, 'frame_timing', qos.RESULTS))
        system.spin_for(2.0)
        assert images == []
        assert system.set_params('camera_source', paused=False)[0].successful
        system.spin_until(lambda: system.diagnostic('camera_source').get('frames_answered') == '3', 30,
                          'three answered frames')
        system.spin_for(3.0)  # a pace timeout and more: nothing further is sent
        camera = system.diagnostic('camera_source')
    finally:
        system.stop()
    assert camera['frames_sent'] == '4' and camera['frames_unanswered'] == '1'
    assert len(images) == 4 and len({(m.header.stamp.sec, m.header.stamp.nanosec) for m in images}) == 4
    assert 'Further such frames are only counted' in system.logs()
