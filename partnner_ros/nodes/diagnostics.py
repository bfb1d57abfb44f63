"""Publish a node's health on /diagnostics (diagnostic_msgs/DiagnosticArray)."""

from typing import Callable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR


class Diagnostics:
    """Calls ``collect() -> (level, message, {key: value})`` every ``period`` seconds."""

    def __init__(self, node, collect: Callable[[], tuple[bytes, str, dict]], period: float = 1.0):
        self._node = node
        self._collect = collect
        self._pub = node.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._timer = node.create_timer(period, self.publish)

    def publish(self) -> None:
        """Collect the node's status now and publish it as one DiagnosticArray (floats to 3 decimals)."""
        level, message, values = self._collect()
        status = DiagnosticStatus(level=level, name=f'partnner_ros: {self._node.get_fully_qualified_name()}',
                                  message=message, hardware_id=self._node.get_fully_qualified_name())
        status.values = [KeyValue(key=k, value=f'{v:.3f}' if isinstance(v, float) else str(v))
                         for k, v in values.items()]
        msg = DiagnosticArray()
        msg.header.stamp = self._node.get_clock().now().to_msg()
        msg.status = [status]
        self._pub.publish(msg)
