"""The topics as a ROS user wires them: a camera that publishes only compressed images on a remapped
topic (the edge and the overlay follow it as image_transport names it, <topic>/compressed), and the
features topic's depth, which must hold every frame the edge may have unanswered."""

from ros_system import System
from sensor_msgs.msg import Image

from partnner_ros.core.vision.sources import open_source
from partnner_ros.nodes import qos
from partnner_ros.system.session import Session


def test_a_compressed_only_camera_on_a_remapped_topic_is_served_and_drawn(ros, tmp_path):
    system = System(tmp_path / 'logs', model='resnet18', threads=1)
    camera = {'image_raw': 'cam/image'}
    overlays = []
    system.node.create_subscription(Image, 'overlay', overlays.append, qos.IMAGE_SUB)
    try:
        system.start('cloud')
        system.start('edge', remap=camera, image_transport='compressed', max_in_flight=3)
        system.start('overlay', remap=camera, image_transport='compressed')
        system.start('partition_manager', policy='fixed', split=20)
        Session.wait_ready(system, 90, split=20)  # no camera yet: it comes next
        system.start('camera_source', remap=camera, image_transport='compressed', rate=5.0, max_frames=6,
                     min_subscribers=2)
        system.spin_until(lambda: len(overlays) >= 6, 90, 'six overlays')
        topics = dict(system.node.get_topic_names_and_types())
        edge = system.diagnostic('edge')
    finally:
        system.stop()
    assert topics[f'{system.ns}/cam/image/compressed'] == ['sensor_msgs/msg/CompressedImage']
    assert f'{system.ns}/cam/image' not in topics
    assert len(system.results) == 6 and all(len(r.results) == 5 for r in system.results)
    assert [o.header.stamp for o in overlays] == [r.header.stamp for r in system.results]
    first = open_source('bundled').next()  # drawn on the camera's own image, whatever its size
    assert overlays[0].encoding == 'rgb8' and (overlays[0].height, overlays[0].width) == first.shape[:2]
    # three frames in flight and a probe: a shallower writer overwrites one not yet acknowledged
    assert edge['features_depth'] == '4'
