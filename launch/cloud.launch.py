"""The server: the cloud node, which runs the tail of the model for any split.

  ros2 launch partnner_ros cloud.launch.py model:=yolov8n namespace:=robot1
"""

from launch.actions import OpaqueFunction

from launch import LaunchDescription
from partnner_ros.launch_support import common_arguments, node, overrides


def _nodes(context):
    return [node(context, 'cloud_node', 'cloud', overrides(context, 'model', 'weights'))]


def generate_launch_description():
    return LaunchDescription([*common_arguments(), OpaqueFunction(function=_nodes)])
