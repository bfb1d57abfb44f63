"""rclpy nodes: thin adapters between ROS topics/parameters and partnner_ros.core."""
