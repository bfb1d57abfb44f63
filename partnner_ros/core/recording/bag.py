"""Reading a robot's recording: an MCAP file (``partnner record``, or ``ros2 bag record -s mcap``'s
file) or a rosbag2 folder of them, decoded with the schemas the file carries.

The file is read as a stream, so a recording cut short (a robot switched off, a full disk) or
damaged gives every message before the damage, and a note of where it stopped, not an error.
"""

import struct
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from mcap.exceptions import EndOfFile, McapError
from mcap.records import Channel, Message, Metadata, Schema
from mcap.stream_reader import StreamReader
from mcap_ros2.decoder import DecoderFactory
from zstandard import ZstdError

# the robot's topics replay uses, by base name (the robot's namespace comes before)
TOPICS = ('frame_timing', 'partition_state', 'cloud_status', 'diagnostics')
RECORD_LIMIT = 256 * 2**20  # a larger record is damage, not data: reading it could exhaust memory


@dataclass(frozen=True)
class Logged:
    """One message: its topic, when the recorder received it (ns on the recording host's clock) and the
    decoded message (attributes as in the .msg file).
    """

    topic: str
    log_ns: int
    msg: Any


@dataclass
class Recording:
    """The wanted topics' messages (by base name, in log-time order), the file's metadata records, and
    what could not be read.
    """

    path: Path
    messages: dict[str, list[Logged]] = field(default_factory=lambda: defaultdict(list))
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    namespaces: set[str] = field(default_factory=set)

    def of(self, base: str) -> list[Logged]:
        """The messages of one topic (base name)."""
        return self.messages.get(base, [])


def base_name(topic: str) -> tuple[str, str]:
    """('/robot1', 'frame_timing') for '/robot1/frame_timing'."""
    ns, _, base = topic.rpartition('/')
    return ns or '/', base


def mcap_files(path: Path) -> list[Path]:
    """The MCAP files of a recording: the file itself, or a rosbag2 folder's files in its metadata.yaml
    order (every .mcap in it when there is no metadata); raises ValueError when there are none.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ValueError(f'no recording at {path}')
    meta = path / 'metadata.yaml'
    if meta.is_file():
        try:
            info = yaml.safe_load(meta.read_text())['rosbag2_bagfile_information']
            files = [path / name for name in info['relative_file_paths']]
        except (yaml.YAMLError, KeyError, TypeError) as e:
            raise ValueError(f'{meta}: not a rosbag2 metadata file ({e})') from None
        if info.get('storage_identifier', 'mcap') != 'mcap':
            raise ValueError(f'{path}: a {info["storage_identifier"]} bag; record with "ros2 bag record -s mcap"')
    else:
        files = sorted(path.glob('*.mcap'))
    files = [f for f in files if f.is_file()]
    if not files:
        raise ValueError(f'{path}: no MCAP files in it')
    return files


def read_recording(path, topics=TOPICS, robot: str | None = None) -> Recording:
    """The messages of ``topics`` (base names) in the recording at ``path``; with ``robot``, only that
    namespace's (``/diagnostics`` is global and always kept). Raises ValueError when the path holds no
    recording or the wanted topics come from several robots and none is chosen.
    """
    rec = Recording(Path(path))
    for file in mcap_files(rec.path):
        _read_file(file, set(topics), robot, rec)
    robots = sorted(rec.namespaces)
    if robot is None and len(robots) > 1:
        raise ValueError(f'{path}: several robots recorded ({", ".join(robots)}); choose one')
    for messages in rec.messages.values():
        messages.sort(key=lambda m: m.log_ns)
    return rec


def _read_file(path: Path, wanted: set[str], robot: str | None, rec: Recording) -> None:
    schemas: dict[int, Schema] = {}
    channels: dict[int, Channel] = {}
    decoders = DecoderFactory()
    read = failed = 0
    try:
        with open(path, 'rb') as f:
            for record in StreamReader(f, validate_crcs=True, record_size_limit=RECORD_LIMIT).records:
                if isinstance(record, Schema):
                    schemas[record.id] = record
                elif isinstance(record, Channel):
                    channels[record.id] = record
                elif isinstance(record, Metadata):
                    rec.metadata[record.name] = dict(record.metadata)
                elif isinstance(record, Message):
                    ok = _add(record, channels, schemas, decoders, wanted, robot, rec)
                    read, failed = read + (ok is True), failed + (ok is False)
    except (McapError, ValueError, EOFError, OSError, struct.error, RuntimeError, ZstdError) as e:  # lz4: RuntimeError
        why = 'it ends mid-record (cut short)' if isinstance(e, (EndOfFile, EOFError)) else f'{type(e).__name__}: {e}'
        rec.problems.append(f'{path.name}: unreadable after {read} messages ({why}); using those before')
    if failed:
        rec.problems.append(f'{path.name}: {failed} messages could not be decoded with their schema; skipped')


def _add(record: Message, channels, schemas, decoders, wanted, robot, rec: Recording) -> bool | None:
    """Decode and keep one message: True when kept, False when undecodable, None when not wanted."""
    channel = channels.get(record.channel_id)
    if channel is None:
        return None
    ns, base = base_name(channel.topic)
    if base not in wanted or (channel.topic != '/diagnostics' and robot is not None and ns != robot):
        return None
    decoder = decoders.decoder_for(channel.message_encoding, schemas.get(channel.schema_id))
    if decoder is None:
        return False
    try:
        msg = decoder(record.data)
    except (ValueError, IndexError, KeyError, struct.error, UnicodeDecodeError, McapError):
        return False
    if channel.topic != '/diagnostics':
        rec.namespaces.add(ns)
    rec.messages[base].append(Logged(channel.topic, record.log_time, msg))
    return True
