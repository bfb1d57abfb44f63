"""Shared pieces of the launch files in launch/ (used only by ros2 launch)."""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node

from .core.adaptation.policies import POLICIES


def share(*parts: str) -> str:
    """The path of ``parts`` inside the installed partnner_ros share directory."""
    return str(Path(get_package_share_directory('partnner_ros'), *parts))


def common_arguments() -> list:
    """The launch arguments every launch file declares (model, policy, params file, DDS profile, ...),
    and FASTDDS_DEFAULT_PROFILES_FILE set from ``dds_profile``.
    """
    return [
        DeclareLaunchArgument('namespace', default_value='', description='namespace of every node'),
        DeclareLaunchArgument('model', default_value='yolov8n',
                              description='model: a zoo name (partnner models), a torchvision classifier '
                                          'name, or an ultralytics .pt/.yaml path; edge and cloud must agree'),
        DeclareLaunchArgument('weights', default_value='',
                              description='local weights file; empty: seeded random weights (never downloads)'),
        DeclareLaunchArgument('image_topic', default_value='image_raw',
                              description='camera image topic the edge (and overlay) subscribe to'),
        DeclareLaunchArgument('image_transport', default_value='raw', choices=['raw', 'compressed'],
                              description='camera transport: raw image_topic, or compressed '
                                          'image_topic/compressed (JPEG or PNG)'),
        DeclareLaunchArgument('policy', default_value='partnner', choices=list(POLICIES),
                              description='partition policy of the manager'),
        DeclareLaunchArgument('split', default_value='',
                              description='split for the fixed policy: 0 cloud-only .. num_layers edge-only; '
                                          'empty: from params_file'),
        DeclareLaunchArgument('params_file', default_value=share('config', 'partnner.yaml'),
                              description='parameter file for all nodes'),
        DeclareLaunchArgument('use_sim_time', default_value='false', choices=['true', 'false'],
                              description='use /clock instead of the system clock'),
        DeclareLaunchArgument('dds_profile', default_value=EnvironmentVariable(
            'FASTDDS_DEFAULT_PROFILES_FILE', default_value=share('config', 'fastdds.xml')),
            description='Fast DDS profile (larger socket buffers for large images); default: '
                        '$FASTDDS_DEFAULT_PROFILES_FILE, else config/fastdds.xml'),
        SetEnvironmentVariable('FASTDDS_DEFAULT_PROFILES_FILE', LaunchConfiguration('dds_profile')),
    ]


def batching_arguments() -> list:
    """The cloud's batching launch arguments (see batching_params)."""
    return [
        DeclareLaunchArgument('max_batch', default_value='4',
                              description='requests resuming at the same split that run as one batch, at most'),
        DeclareLaunchArgument('max_batch_wait_ms', default_value='4.0',
                              description='ms a request waits at most for others to batch with'),
    ]


def batching_params(context) -> dict:
    """The cloud's batching parameters from batching_arguments."""
    return {'max_batch': int(LaunchConfiguration('max_batch').perform(context)),
            'max_batch_wait_ms': float(LaunchConfiguration('max_batch_wait_ms').perform(context))}


def overrides(context, *names: str) -> dict:
    """Launch arguments given a value, as parameter overrides (empty ones defer to params_file)."""
    out = {'use_sim_time': LaunchConfiguration('use_sim_time').perform(context) == 'true'}
    for name in names:
        value = LaunchConfiguration(name).perform(context)
        if value != '':
            out[name] = int(value) if name == 'split' else value
    return out


def node(context, executable: str, name: str, params: dict, remap_image: bool = False, robot: str = '') -> Node:
    """A partnner_ros node with the params file and ``params``; a camera node (``remap_image``) gets
    image_topic for ``image_raw`` and image_transport; ``robot`` puts it in that namespace under the
    launch's ``namespace``.
    """
    remappings = [('image_raw', LaunchConfiguration('image_topic').perform(context))] if remap_image else []
    if remap_image:
        params = {**params, 'image_transport': LaunchConfiguration('image_transport').perform(context)}
    namespace = LaunchConfiguration('namespace').perform(context)
    return Node(package='partnner_ros', executable=executable, name=name,
                namespace=f'{namespace.rstrip("/")}/{robot}' if robot else namespace, output='screen',
                parameters=[LaunchConfiguration('params_file').perform(context), params],
                remappings=remappings)
