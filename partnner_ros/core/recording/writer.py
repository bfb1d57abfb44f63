"""Writing a recording: serialized ROS 2 messages (CDR, as they came off the wire) into an MCAP file
of the ``ros2`` profile, with each type's full message definition as its schema, as rosbag2 writes
them, so Foxglove, ``ros2 bag`` and :mod:`.bag` read it.
"""

import re
from collections.abc import Callable
from pathlib import Path

from mcap.writer import CompressionType, Writer

from ... import __version__

# a crash loses at most the chunk being filled: small chunks, still well compressed
CHUNK_BYTES = 64 * 1024
SEPARATOR = '\n' + '=' * 80 + '\n'
PRIMITIVES = {'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32',
              'int64', 'uint64', 'string', 'wstring'}


def message_definition(datatype: str, read_msg: Callable[[str, str], str]) -> str:
    """The definition of ``datatype`` ('pkg/msg/Type') followed by every type it uses, each after a
    separator and a ``MSG: pkg/msg/Type`` line (rosbag2's layout); ``read_msg(pkg, Type)`` gives a .msg
    file's text.
    """
    pkg, _, name = _split(datatype)
    main = read_msg(pkg, name)
    deps: dict[str, str] = {}  # type -> its .msg text, in the order first used
    pending = _uses(pkg, main)
    while pending:
        dep = pending.pop(0)
        if dep in deps:
            continue
        dep_pkg, _, dep_name = _split(dep)
        deps[dep] = read_msg(dep_pkg, dep_name)
        pending += _uses(dep_pkg, deps[dep])
    sections = ''.join(f'{SEPARATOR}MSG: {dep}\n' + text.rstrip('\n') for dep, text in deps.items())
    return main.rstrip('\n') + sections + '\n'


def _split(datatype: str) -> tuple[str, str, str]:
    parts = datatype.split('/')
    if len(parts) == 2:
        return parts[0], 'msg', parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise ValueError(f'not a message type: {datatype!r}')


def _uses(pkg: str, text: str) -> list[str]:
    """The message types a .msg text's fields use (constants and primitives excluded)."""
    out = []
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        if len(line.split()) < 2 or re.match(r'^\S+\s+\w+\s*=', line):
            continue
        base = re.sub(r'<=\d+$', '', re.sub(r'\[[^\]]*\]$', '', line.split()[0]))
        if base in PRIMITIVES:
            continue
        dep_pkg, _, dep_name = base.rpartition('/')
        out.append(f'{dep_pkg.split("/")[0] if dep_pkg else pkg}/msg/{dep_name}')
    return out


class RecordingWriter:
    """An MCAP file being written: a channel per topic, messages as serialized CDR with the time they were
    received (ns). ``metadata`` goes into a ``partnner_recording`` metadata record.
    """

    def __init__(self, path, read_msg: Callable[[str, str], str], metadata: dict[str, str]):
        self.path = Path(path)
        self._file = open(self.path, 'wb')
        self._writer = Writer(self._file, chunk_size=CHUNK_BYTES, compression=CompressionType.ZSTD)
        self._writer.start(profile='ros2', library=f'partnner_ros {__version__}')
        self._writer.add_metadata('partnner_recording', metadata)
        self._read_msg = read_msg
        self._schemas: dict[str, int] = {}
        self.messages = 0

    def channel(self, topic: str, datatype: str) -> int:
        """A channel for ``topic`` carrying ``datatype`` ('pkg/msg/Type'), its schema written once."""
        if datatype not in self._schemas:
            text = message_definition(datatype, self._read_msg)
            self._schemas[datatype] = self._writer.register_schema(datatype, 'ros2msg', text.encode())
        return self._writer.register_channel(topic, 'cdr', self._schemas[datatype])

    def write(self, channel: int, data: bytes, log_ns: int) -> None:
        """One serialized message, received at ``log_ns``."""
        self._writer.add_message(channel, log_time=log_ns, publish_time=log_ns, data=data, sequence=self.messages)
        self.messages += 1

    def flush(self) -> None:
        """Put what the finished chunks hold on disk."""
        self._file.flush()

    def close(self) -> None:
        """Finish the file (its summary and index) and close it."""
        if not self._file.closed:
            self._writer.finish()
            self._file.close()
