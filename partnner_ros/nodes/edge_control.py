"""The partition manager's hold on the edge node: it reads the edge's model facts, sets its split
(with the probe, the codecs and the server) through the edge's parameter service, one request at a
time with a deadline, and notices a split that someone else set on the edge.
"""

import time

from rcl_interfaces.msg import ParameterEvent
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import qos_profile_parameter_events

from .requests import Outstanding

TIMEOUT_S = 1.0  # a request unanswered for this long is given up on, and asked again
NO_EDGE_WARN_S = 30.0  # an edge loading a big model may take this long to answer
FACTS = ['num_layers', 'model_fingerprint', 'split', 'layer_weights', 'split_elements', 'codec', 'input_codec']
# what the manager sets, in the order of its ``wanted`` tuples (None: leave the edge's value)
FIELDS = ('split', 'probe_split', 'probe_every', 'codec', 'input_codec', 'server')


class EdgeControl:
    """``applied``: what the edge runs, as far as the manager knows (a ``FIELDS`` tuple; None before
    the edge is read); ``outside_sets``: changes to those made on the edge by anyone but the manager.
    """

    def __init__(self, node, name: str):
        self.node = node
        self.client = AsyncParameterClient(node, name)
        self.name = node.resolve_topic_name(name)
        self.request = Outstanding(TIMEOUT_S)
        self.applied: tuple | None = None
        self.asked: tuple | None = None
        self.outside_sets = 0
        self.started = time.monotonic()
        node.create_subscription(ParameterEvent, '/parameter_events', self._on_event, qos_profile_parameter_events)

    def ready(self) -> bool:
        """Whether the edge's parameter service is up."""
        return self.client.services_are_ready()

    def busy(self, now: float) -> bool:
        """Whether a request is in flight within its deadline (one past it is given up on, and said so)."""
        timeouts = self.request.timeouts
        if self.request.busy(now):
            return True
        if self.request.timeouts > timeouts:
            self.node.get_logger().warn(f'the edge did not answer within {TIMEOUT_S:.0f} s; asking again',
                                        throttle_duration_sec=30.0)
        return False

    def read_facts(self, now: float, on_facts) -> None:
        """Ask for the edge's model facts (``FACTS``); ``on_facts(response)`` gets the answer, after
        ``applied`` takes the edge's split.
        """
        if not self.ready():
            if now - self.started > NO_EDGE_WARN_S:
                self.node.get_logger().error(f'no edge: {self.name} does not answer (is it running? its log says '
                                             'why it stopped)', once=True)
            return

        def read(future):
            answer = self._answer(future, 'reading the edge parameters')
            if answer is not None:
                self.applied = (answer.values[FACTS.index('split')].integer_value, None, None, None, None, None)
                on_facts(answer)
        self.request.start(self.client.get_parameters(FACTS), now, read)

    def apply(self, wanted: tuple, now: float, on_applied) -> None:
        """Set ``wanted`` (a ``FIELDS`` tuple) on the edge, all at once: its next frame takes the split
        with its codec, never with another's. ``on_applied(result, previous)`` gets the edge's verdict and
        the split it ran before (``applied`` is ``wanted`` by then, when the edge took it).
        """
        self.asked = wanted
        params = [Parameter(name, value=v) for name, v in zip(FIELDS, wanted) if v is not None]

        def took(future):
            answer = self._answer(future, f'setting split {wanted[0]} on the edge')
            if answer is None:
                return
            previous = self.applied[0] if self.applied else None
            if answer.result.successful:
                self.applied = wanted
            on_applied(answer.result, previous)
        self.request.start(self.client.set_parameters_atomically(params), now, took)

    def _answer(self, future, what: str):
        """The service's response, or None when the call failed (logged; the manager asks again)."""
        try:
            return future.result()
        except Exception as e:  # noqa: BLE001 - asked again on the manager's next tick
            self.node.get_logger().warn(f'{what} failed: {e}')
            return None

    def _on_event(self, event: ParameterEvent) -> None:
        if event.node != self.name or self.applied is None:
            return
        applied = list(self.applied)
        for param in event.changed_parameters:
            if param.name not in FIELDS:
                continue
            i, value = FIELDS.index(param.name), parameter_value_to_python(param.value)
            ours = self.asked is not None and self.asked[i] is not None and value == self.asked[i]
            if not ours and applied[i] is not None and value != applied[i]:
                applied[i] = value
                self.outside_sets += 1
                self.node.get_logger().warn(
                    f'the edge\'s {param.name} was set to {value} from outside; the partition manager sets it '
                    '(with policy fixed, set the manager\'s split instead)', throttle_duration_sec=30.0)
        self.applied = tuple(applied)
