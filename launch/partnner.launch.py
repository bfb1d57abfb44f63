"""Everything on one host: camera source, edge, cloud, partition manager, overlay.

  ros2 launch partnner_ros partnner.launch.py policy:=fixed split:=5
  ros2 launch partnner_ros partnner.launch.py source:=none image_topic:=/camera/image_raw
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration

from launch import LaunchDescription
from partnner_ros.launch_support import common_arguments, node, overrides


def _nodes(context):
    model = overrides(context, 'model', 'weights')
    nodes = [
        node(context, 'cloud_node', 'cloud', model),
        node(context, 'edge_node', 'edge', model, remap_image=True),
        node(context, 'partition_manager', 'partition_manager', overrides(context, 'policy', 'split')),
        node(context, 'overlay_node', 'overlay', overrides(context), remap_image=True),
    ]
    source = LaunchConfiguration('source').perform(context)
    if source != 'none':
        camera = overrides(context)
        camera.update(source=source, rate=float(LaunchConfiguration('rate').perform(context)))
        nodes.append(node(context, 'camera_source', 'camera_source', camera, remap_image=True))
    return nodes


def generate_launch_description():
    return LaunchDescription([
        *common_arguments(),
        DeclareLaunchArgument('source', default_value='bundled',
                              description='camera source: bundled, synthetic, a folder, an image or a video '
                                          'file; none: use a real camera on image_topic'),
        DeclareLaunchArgument('rate', default_value='5.0', description='camera source frames per second'),
        OpaqueFunction(function=_nodes),
    ])
