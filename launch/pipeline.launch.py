"""A pipeline over several devices, from a plan (partnner plan --json): the edge runs
the first block, a cloud node with ``stop`` each middle block, a cloud node the last.
Run it on every device, each starting its own stages:

  ros2 launch partnner_ros pipeline.launch.py plan:=plan.json stages:=edge        # on the robot
  ros2 launch partnner_ros pipeline.launch.py plan:=plan.json stages:=stage_1     # on the Jetson
  ros2 launch partnner_ros pipeline.launch.py plan:=plan.json stages:=cloud       # on the laptop
"""

import json
from pathlib import Path

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription
from partnner_ros.core.multidevice.stages import stage_nodes
from partnner_ros.launch_support import common_arguments, overrides

EXECUTABLES = {'edge': 'edge_node', 'cloud': 'cloud_node'}


def _nodes(context):
    arg = lambda name: LaunchConfiguration(name).perform(context)  # noqa: E731
    plan = json.loads(Path(arg('plan')).read_text())
    nodes = stage_nodes(plan, arg('algo'), arg('codec'))
    wanted = {s for s in arg('stages').split(',') if s} or {nd.name for nd in nodes}
    unknown = wanted - {nd.name for nd in nodes}
    if unknown:
        raise ValueError(f'the plan has no stages {sorted(unknown)}; it has {[nd.name for nd in nodes]}')
    common = {**overrides(context, 'weights'), 'model': plan['model']}

    def stage(nd):
        params, remappings = {**common, **nd.params}, list(nd.remappings.items())
        if nd.kind == 'edge':  # the camera's node
            params['image_transport'] = arg('image_transport')
            remappings.append(('image_raw', arg('image_topic')))
        return Node(package='partnner_ros', executable=EXECUTABLES[nd.kind], name=nd.name,
                    namespace=arg('namespace'), output='screen', parameters=[arg('params_file'), params],
                    remappings=remappings)
    return [stage(nd) for nd in nodes if nd.name in wanted]


def generate_launch_description():
    return LaunchDescription([
        *common_arguments(),
        DeclareLaunchArgument('plan', description='plan file: the output of partnner plan --json'),
        DeclareLaunchArgument('algo', default_value='bnb', description='which plan in the file'),
        DeclareLaunchArgument('stages', default_value='',
                              description='comma-separated stages to start here (edge, stage_1, ..., cloud); '
                                          'empty: all of them'),
        DeclareLaunchArgument('codec', default_value='fp16+lz4', description='codec of the tensors between stages'),
        OpaqueFunction(function=_nodes)])
