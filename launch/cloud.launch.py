"""The server: the cloud node, which runs the tail of the model for any split, for one robot or a fleet.

  ros2 launch partnner_ros cloud.launch.py model:=yolov8n namespace:=robot1
  ros2 launch partnner_ros cloud.launch.py model:=yolov8n robots:=robot1,robot2,robot3
  ros2 launch partnner_ros cloud.launch.py robots:=robot1,robot2 server:=gpu1   # one of several servers
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration

from launch import LaunchDescription
from partnner_ros.launch_support import batching_arguments, batching_params, common_arguments, node, overrides


def _nodes(context):
    params = overrides(context, 'model', 'weights')
    robots = [r.strip() for r in LaunchConfiguration('robots').perform(context).split(',') if r.strip()]
    if robots:
        params['robots'] = robots
    server = LaunchConfiguration('server').perform(context)
    if server:
        params['server'] = server
    params.update(batching_params(context))
    return [node(context, 'cloud_node', 'cloud', params)]


def generate_launch_description():
    return LaunchDescription([
        *common_arguments(),
        DeclareLaunchArgument('robots', default_value='',
                              description='comma-separated robot namespaces this server serves, relative to its '
                                          'own (robot1,robot2); empty: one robot, in the server\'s namespace'),
        DeclareLaunchArgument('server', default_value='',
                              description='name of this server when robots choose among several (it then serves '
                                          '<robot>/features/<server>); empty: the one server, on <robot>/features'),
        *batching_arguments(),
        OpaqueFunction(function=_nodes)])
