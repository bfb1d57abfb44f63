"""QoS of every topic, and why; plus warnings on incompatible QoS.

* Images: sensor-data QoS (best effort, keep last 5, REP-2003) for subscriptions;
  the camera source publishes reliable, which matches every subscriber.
* Features: reliable, keep last (frames in flight + 1). A feature message is several
  hundred KB that DDS fragments; best effort loses the whole frame when one fragment
  drops. A writer keeping fewer than the edge may have unanswered (its frames and a
  probe) would overwrite one still unacknowledged on a slow link; a reader keeps as
  many as any edge may send (``MAX_IN_FLIGHT``), and the edge counts anything
  unanswered.
* Results and frame timing: reliable, keep last 50: small, and every record
  counts for latency accounting and for consumers.
* Partition state: reliable, transient local, depth 1, so late joiners (rviz,
  tools) get the current split at once.
* Cloud heartbeat: best effort, depth 1: only the newest matters.
"""

from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

IMAGE_SUB = qos_profile_sensor_data
IMAGE_PUB = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
MAX_IN_FLIGHT = 16  # frames an edge (or a pipeline stage) may have unanswered, at most


def features(in_flight: int = MAX_IN_FLIGHT) -> QoSProfile:
    """QoS of the features topics for ``in_flight`` unanswered frames (and a probe)."""
    return QoSProfile(depth=in_flight + 1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)


RESULTS = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
STATE = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST,
                   durability=DurabilityPolicy.TRANSIENT_LOCAL)
HEARTBEAT = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST)


def _warner(node, topic: str, side: str):
    warned = []

    def warn(info):
        if not warned:
            warned.append(True)
            node.get_logger().warn(
                f'incompatible QoS on {topic!r} ({side}): policy {info.last_policy_kind}; '
                'no messages will flow between these endpoints. See partnner_ros/nodes/qos.py.')
    return warn


def sub_events(node, topic: str) -> SubscriptionEventCallbacks:
    """Subscription callbacks that log incompatible QoS on ``topic`` once."""
    return SubscriptionEventCallbacks(incompatible_qos=_warner(node, topic, 'subscription'))


def pub_events(node, topic: str) -> PublisherEventCallbacks:
    """Publisher callbacks that log incompatible QoS on ``topic`` once."""
    return PublisherEventCallbacks(incompatible_qos=_warner(node, topic, 'publisher'))
