"""A fleet on one host: N robots (camera source, edge, partition manager, each in robot1, robot2, ...)
and one cloud node or several serving them all, batching across robots.

  ros2 launch partnner_ros fleet.launch.py robots:=4
  ros2 launch partnner_ros fleet.launch.py robots:=8 max_batch:=8 source:=synthetic rate:=10.0
  ros2 launch partnner_ros fleet.launch.py robots:=6 servers:=2
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration

from launch import LaunchDescription
from partnner_ros.launch_support import batching_arguments, batching_params, common_arguments, node, overrides


def _nodes(context):
    model = overrides(context, 'model', 'weights')
    count = int(LaunchConfiguration('robots').perform(context))
    names = [f'robot{i + 1}' for i in range(count)]
    cloud = dict(model, robots=names, **batching_params(context))
    servers = int(LaunchConfiguration('servers').perform(context))
    if servers == 1:
        nodes = [node(context, 'cloud_node', 'cloud', cloud)]
    else:  # named servers: each robot's manager picks one, and moves off a dead one
        nodes = [node(context, 'cloud_node', f'cloud_{m + 1}', dict(cloud, server=f'server{m + 1}'))
                 for m in range(servers)]
    camera = dict(overrides(context), source=LaunchConfiguration('source').perform(context),
                  rate=float(LaunchConfiguration('rate').perform(context)))
    for robot in names:
        nodes += [
            node(context, 'camera_source', 'camera_source', camera, remap_image=True, robot=robot),
            node(context, 'edge_node', 'edge', model, remap_image=True, robot=robot),
            node(context, 'partition_manager', 'partition_manager', overrides(context, 'policy', 'split'),
                 robot=robot),
        ]
    return nodes


def generate_launch_description():
    return LaunchDescription([
        *common_arguments(),
        DeclareLaunchArgument('robots', default_value='3',
                              description='number of robots, in namespaces robot1 .. robotN under namespace'),
        DeclareLaunchArgument('servers', default_value='1',
                              description='number of servers; more than one are named server1 .. serverM, and each '
                                          'robot uses the cheapest that lives'),
        *batching_arguments(),
        DeclareLaunchArgument('source', default_value='bundled',
                              description='each robot\'s camera source: bundled, synthetic, a folder, an image '
                                          'or a video file'),
        DeclareLaunchArgument('rate', default_value='5.0', description='camera frames per second, per robot'),
        OpaqueFunction(function=_nodes),
    ])
