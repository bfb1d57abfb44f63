"""A running system as one rclpy node sees it, and the node processes that make it up.

:class:`SystemWatch` follows a system from any node: its frames (through a
:class:`~partnner_ros.core.adaptation.ledger.FrameLedger`), the manager's partition
state and the edge's diagnostics, and says whether the system is ready for camera
frames. :class:`Session` adds the processes: it starts nodes in a namespace, waits
until they are ready, and stops them. The demo, the bench observer and the tests
share both.
"""

import signal
import time
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray

from ..core.adaptation.ledger import FrameLedger
from ..msg import FrameTiming, PartitionState
from ..nodes import qos
from .processes import log_tail, node_command, spawn, stop


class SessionError(RuntimeError):
    """The system did not get where it was awaited: a node exited, or time ran out."""


class SystemWatch:
    """Subscribes ``node`` to the system's frame records, partition state and
    /diagnostics. ``on_frame(record, msg)`` sees every frame's record (not probes).
    """

    def __init__(self, node, on_frame=None, on_state=None):
        self.node = node
        self.ledger = FrameLedger()
        self.state: PartitionState | None = None
        self.states: list[tuple[float, PartitionState]] = []  # (monotonic arrival, state)
        self.diagnostics: dict[str, tuple[float, dict[str, str]]] = {}  # node -> (monotonic arrival, values)
        self._on_frame = on_frame
        self._on_state = on_state
        self.timing_sub = node.create_subscription(FrameTiming, 'frame_timing', self._timing, qos.RESULTS)
        node.create_subscription(PartitionState, 'partition_state', self._state, qos.STATE)
        node.create_subscription(DiagnosticArray, '/diagnostics', self._diagnostics, 50)

    def _timing(self, msg: FrameTiming) -> None:
        record = self.ledger.add(msg, self.node.get_clock().now().nanoseconds)
        if record is not None and self._on_frame is not None:
            self._on_frame(record, msg)

    def _state(self, msg: PartitionState) -> None:
        self.state = msg
        self.states.append((time.monotonic(), msg))
        if self._on_state is not None:
            self._on_state(msg)

    def _diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            self.diagnostics[status.hardware_id] = (time.monotonic(), {kv.key: kv.value for kv in status.values})

    def value(self, key: str, node: str = 'edge') -> str | None:
        """A value from the last /diagnostics status of ``node`` (a name in this namespace)."""
        entry = self.diagnostics.get(self._fqn(node))
        return entry[1].get(key) if entry else None

    def summary(self) -> str:
        """What this node last heard of the edge and how many frame-record publishers it has matched, for
        error messages.
        """
        graph = len(self.node.get_publishers_info_by_topic(self.timing_sub.topic_name))
        return (f'frame_timing publishers: {self.timing_sub.get_publisher_count()} matched, {graph} in the graph; '
                f'edge status: {self.diagnostics.get(self._fqn("edge"), (0.0, {}))[1]}')

    def _fqn(self, name: str) -> str:
        ns = self.node.get_namespace().rstrip('/')
        return f'{ns}/{name}'

    def not_ready(self, since: float, split: int | None = None, camera: bool = False,
                  edge: str = 'edge') -> str | None:
        """Why the system cannot take camera frames yet, or None when it can.

        Ready: the manager sees the edge and a live cloud (at ``split``, if given);
        both the edge's and the cloud's frame records reach this node; the edge, in a
        status sent after ``since`` (monotonic), has matched the cloud (and, with
        ``camera``, a camera); and the cloud, in such a status, has matched every reader
        of its frame records. DDS matches each side on its own, so a frame sent before
        the edge's side is done is lost, or served on the edge, and its record may not
        reach a reader the cloud has not matched.
        """
        s = self.state
        if s is None or not s.num_layers:
            return 'the manager has not seen the edge'
        if not s.cloud_alive:
            return 'the manager sees no live cloud'
        if split is not None and s.split != split:
            return f'the split is {s.split}, not yet {split}'
        if self.timing_sub.get_publisher_count() < 2:
            return "the edge's and the cloud's frame records are not both matched"
        at, values = self.diagnostics.get(self._fqn(edge), (0.0, {}))
        if at <= since:
            return 'no fresh status from the edge'
        if values.get('cloud_matched') != 'True':
            return 'the edge has not matched the cloud'
        if camera and int(values.get('cameras', 0)) < 1:
            return 'the edge has not matched the camera'
        return self._cloud_not_heard(since)

    def _cloud_not_heard(self, since: float) -> str | None:
        """Why a cloud of this namespace, serving it alone, may not reach every reader of its frame records
        yet (None when it does, or when there is no such cloud): this node may know of the cloud's
        publisher before that publisher knows of the readers, and a record sent meanwhile is lost to them.
        """
        at, values = self.diagnostics.get(self._fqn('cloud'), (None, {}))
        if at is None:
            return None
        if at <= since:
            return 'no fresh status from the cloud'
        readers = self.node.count_subscribers(self.timing_sub.topic_name)
        if values.get('robots') == '1' and int(values.get('timing_readers', 0)) < readers:
            return f"the cloud's frame records reach {values.get('timing_readers')} of {readers} readers"
        return None


class Session:
    """Node processes in one namespace, watched by an rclpy node of the caller's.
    rclpy must be initialised; :meth:`close` stops everything.
    """

    def __init__(self, namespace: str, log_dir: Path, node_name: str = 'session', log_level: str = 'info',
                 on_frame=None):
        import rclpy
        self._rclpy = rclpy
        self.namespace = namespace
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_level = log_level
        self.procs: dict = {}
        self.node = rclpy.create_node(node_name, namespace=namespace)
        self.watch = SystemWatch(self.node, on_frame=on_frame)

    def start(self, module: str, params: dict, name: str | None = None, remap: dict | None = None,
              robot: str = ''):
        """Start ``partnner_ros.nodes.<module>`` (``name`` renames the node, ``remap`` maps topics, ``robot`` puts
        it in that namespace under the session's, for a fleet; its key is then ``robot/name``).
        """
        argv = node_command(module, self._namespace_of(robot), params, self.log_level)
        if name:
            argv += ['-r', f'__node:={name}']
        for old, new in (remap or {}).items():
            argv += ['-r', f'{old}:={new}']
        key = (f'{robot}/' if robot else '') + (name or module.rsplit('.', 1)[-1])
        self.procs[key] = spawn(argv, self.log_dir / f"{key.replace('/', '-')}-{len(self.procs)}.log")
        return self.procs[key]

    def _namespace_of(self, robot: str) -> str:
        """The namespace of a node started for ``robot`` ('': the session's own)."""
        return f'{self.namespace}/{robot}' if robot else self.namespace

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal one node's process group and wait for it."""
        stop([self.procs.pop(name)], grace_s=0.0 if sig == signal.SIGKILL else 5.0)

    def wait_forgotten(self, key: str, timeout: float = 30.0) -> None:
        """Until the graph no longer lists the killed node ``key``: until then DDS still counts its endpoints as
        matched, so a node restarted under the same name could pass for matched before it is.
        """
        robot, _, name = key.rpartition('/')
        ns = self._namespace_of(robot)
        self.spin_until(lambda: (name, ns) not in self.node.get_node_names_and_namespaces(), timeout,
                        f'the graph to forget {key}')

    def close(self) -> None:
        """Stop every node (SIGINT, then SIGKILL), recorders last so that they keep what the others sent
        last, and destroy the watching node.
        """
        recorders = [p for key, p in self.procs.items() if key.rsplit('/', 1)[-1] == 'recorder']
        stop(p for p in self.procs.values() if p not in recorders)
        stop(recorders)
        self.procs.clear()
        self.node.destroy_node()

    def logs(self, lines: int = 40) -> str:
        """The tail of every node's log."""
        return '\n'.join(f'--- {p.name}\n{log_tail(p, lines)}' for p in sorted(self.log_dir.glob('*.log')))

    def spin_until(self, predicate, timeout: float, what: str = 'condition', ignore=()) -> None:
        """Spin until ``predicate()``; :class:`SessionError` if a node (not in ``ignore``)
        exits or ``timeout`` passes first.
        """
        deadline = time.monotonic() + timeout
        while not predicate():
            dead = [k for k, p in self.procs.items() if k not in ignore and p.poll() is not None]
            if dead:
                raise SessionError(f'{", ".join(dead)} exited while waiting for {what}\n{self.logs()}')
            if time.monotonic() > deadline:
                raise SessionError(f'timed out after {timeout:.0f} s waiting for {what}\n{self.watch.summary()}\n'
                                   f'{self.logs()}')
            self._rclpy.spin_once(self.node, timeout_sec=0.02)

    def spin_for(self, seconds: float) -> None:
        """Spin the watching node for ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._rclpy.spin_once(self.node, timeout_sec=0.02)

    def parameter_client(self, node_name: str):
        """A parameter client of a node of the session, its services found; SessionError if they are not."""
        from rclpy.parameter_client import AsyncParameterClient
        client = AsyncParameterClient(self.node, f'{self.namespace}/{node_name}')
        if not client.wait_for_services(10):
            raise SessionError(f'no parameter services on {node_name}\n{self.logs()}')
        return client

    def set_params_async(self, node_name: str, **params):
        """Request parameter changes on a node of the session; the future of the results."""
        from rclpy.parameter import Parameter
        return self.parameter_client(node_name).set_parameters([Parameter(k, value=v) for k, v in params.items()])

    def set_params(self, node_name: str, **params):
        """Set parameters on a node of the session; the SetParametersResult list."""
        future = self.set_params_async(node_name, **params)
        self.spin_until(future.done, 10, f'set {params} on {node_name}')
        return future.result().results

    def wait_ready(self, timeout: float, split: int | None = None, camera: bool = False) -> None:
        """Until :meth:`SystemWatch.not_ready` says ready (see there)."""
        since = time.monotonic()
        reason = ['']

        def ready() -> bool:
            reason[0] = self.watch.not_ready(since, split, camera) or ''
            return not reason[0]
        try:
            self.spin_until(ready, timeout, 'the system to be ready')
        except SessionError as e:
            raise SessionError(f'{e.args[0].splitlines()[0]} ({reason[0]})\n{self.watch.summary()}\n'
                               f'{self.logs()}') from None
