"""partnner_ros: adaptive edge/cloud split inference for vision DNNs on ROS 2.

The ROS-free core lives in :mod:`partnner_ros.core`; the rclpy nodes in
:mod:`partnner_ros.nodes`; the generated interfaces in :mod:`partnner_ros.msg`
(present only in a colcon install).
"""

__version__ = '0.1.0'
