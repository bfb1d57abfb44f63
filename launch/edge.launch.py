"""The robot: edge node on the camera topic, partition manager and overlay.

  ros2 launch partnner_ros edge.launch.py image_topic:=/camera/image_raw namespace:=robot1
"""

from launch.actions import OpaqueFunction

from launch import LaunchDescription
from partnner_ros.launch_support import common_arguments, node, overrides


def _nodes(context):
    model = overrides(context, 'model', 'weights')
    return [
        node(context, 'edge_node', 'edge', model, remap_image=True),
        node(context, 'partition_manager', 'partition_manager', overrides(context, 'policy', 'split')),
        node(context, 'overlay_node', 'overlay', overrides(context), remap_image=True),
    ]


def generate_launch_description():
    return LaunchDescription([*common_arguments(), OpaqueFunction(function=_nodes)])
