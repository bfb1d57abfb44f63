"""Recordings: MCAP files written as the recorder writes them (serialized ROS 2 messages) and as
rosbag2 lays them out, read back, cut short and damaged; the link, the robot and the server
recovered from a run made on a known schedule; and that run replayed through the policies."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from mcap.reader import make_reader
from mcap.writer import Writer
from rclpy.serialization import serialize_message
from std_msgs.msg import Header

from partnner_ros.core.model.profiler import profile as measure
from partnner_ros.core.recording.bag import read_recording
from partnner_ros.core.recording.conditions import conditions
from partnner_ros.core.recording.replay import prediction, replay
from partnner_ros.core.recording.writer import RecordingWriter, message_definition
from partnner_ros.core.simulation.scenario import Platform, Scenario, SimProfile, Truth
from partnner_ros.core.simulation.simulator import next_frame
from partnner_ros.core.simulation.traces import Trace, trace_from_spec
from partnner_ros.msg import FrameTiming, PartitionState
from partnner_ros.nodes.recorder import datatype, read_msg

T0_NS = 1_800_000_000 * 10**9
DELAY_MS = 10.0
REPLAY = [sys.executable, '-P', '-m', 'partnner_ros', 'replay']
TRACE = 'steps:20,4@10'  # 20 Mbit/s for 10 s, then 4


@pytest.fixture(scope='module')
def profile_file(get_model, tmp_path_factory) -> Path:
    """resnet18 profiled on this machine, as partnner profile --json writes it."""
    path = tmp_path_factory.mktemp('profile') / 'resnet18.json'
    path.write_text(json.dumps(measure(get_model('resnet18'), ['fp16+lz4', 'jpeg'], repeats=1, fidelity=False)))
    return path


@pytest.fixture(scope='module')
def profile(profile_file) -> SimProfile:
    return SimProfile.from_profile(json.loads(profile_file.read_text()))


def middle_split(profile: SimProfile) -> int:
    """A true split whose features are about 100 kB: both sides compute and the link carries them."""
    inner = [k for k in profile.space.splits if 0 < k < profile.space.num_layers]
    return min(inner, key=lambda k: abs(profile.bytes[k] - 100_000))


def stamp(ns: int) -> Time:
    return Time(sec=ns // 10**9, nanosec=ns % 10**9)


def known_run(profile: SimProfile, split: int, seconds: float = 20.0, fps: float = 2.0):
    """(log ns, topic, message) of a robot served at ``split`` on the known link, robot 5x and server 1x this
    machine, as the simulator serves it (every frame's record, a state and the edge's diagnostics each second)."""
    sc = Scenario(profile, Platform('known', 5.0, 1.0), trace_from_spec(TRACE), fps=fps, delay_ms=DELAY_MS,
                  duration_s=seconds, noise=0.02, result_bytes=2000)
    truth = Truth(sc)
    out, free, i = [], 0.0, 0
    while True:
        j, s, skipped = next_frame(free, i, fps)
        if s >= seconds:
            break
        costs = truth.costs(j, s)
        r = truth.record(j, costs, truth.option(split), (s - j / fps) * 1e3, s)
        header = Header(stamp=stamp(T0_NS + round(j / fps * 1e9)), frame_id='camera')
        wait = (s - j / fps) * 1e3
        msg = FrameTiming(header=header, status=0, frame_seq=j, split=split, codec=r.codec,
                          payload_bytes=r.payload_bytes, edge_queue_ms=wait, edge_compute_ms=r.edge_compute_ms,
                          edge_preprocess_ms=r.edge_ms - wait - r.edge_compute_ms, cloud_compute_ms=r.cloud_compute_ms,
                          cloud_postprocess_ms=r.cloud_ms - r.cloud_compute_ms)
        out.append((T0_NS + round((j / fps + r.e2e_ms / 1e3) * 1e9), '/robot/frame_timing', msg))
        free, i = s + (r.e2e_ms - wait) / 1e3, j + 1
    for second in range(int(seconds)):
        at = T0_NS + second * 10**9
        out.append((at, '/robot/partition_state', PartitionState(policy='fixed', split=split, rtt_ms=2 * DELAY_MS,
                                                                 num_layers=profile.space.num_layers)))
        status = DiagnosticStatus(name='partnner_ros: /robot/edge', values=[KeyValue(key='model', value='resnet18')])
        out.append((at, '/diagnostics', DiagnosticArray(status=[status])))
    return sorted(out, key=lambda x: x[0])


def write_recording(path: Path, messages) -> Path:
    """As the recorder writes: one channel per topic, the messages serialized."""
    writer = RecordingWriter(path, read_msg, {'robot': '/robot'})
    channels = {}
    for log_ns, topic, msg in messages:
        if topic not in channels:
            channels[topic] = writer.channel(topic, datatype(type(msg)))
        writer.write(channels[topic], serialize_message(msg), log_ns)
    writer.close()
    return path


def write_rosbag2(folder: Path, messages) -> Path:
    """As ``ros2 bag record -s mcap`` lays a bag out: a folder with metadata.yaml and its MCAP file, schemas
    named pkg/msg/Type with their dependencies, channels with their offered QoS."""
    folder.mkdir()
    with open(folder / 'bag_0.mcap', 'wb') as f:
        writer = Writer(f)
        writer.start(profile='ros2', library='rosbag2')
        schemas, channels = {}, {}
        for log_ns, topic, msg in messages:
            name = datatype(type(msg))
            if name not in schemas:
                schemas[name] = writer.register_schema(name, 'ros2msg', message_definition(name, read_msg).encode())
            if topic not in channels:
                channels[topic] = writer.register_channel(topic, 'cdr', schemas[name],
                                                          {'offered_qos_profiles': '- history: 3\n  depth: 0\n'})
            writer.add_message(channels[topic], log_time=log_ns, publish_time=log_ns, data=serialize_message(msg))
        writer.finish()
    (folder / 'metadata.yaml').write_text(yaml.safe_dump({'rosbag2_bagfile_information': {
        'version': 9, 'storage_identifier': 'mcap', 'relative_file_paths': ['bag_0.mcap'],
        'message_count': len(messages)}}))
    return folder


def test_a_message_definition_carries_its_dependencies():
    text = message_definition('partnner_ros/msg/FrameTiming', read_msg)
    assert text.startswith('# ') or 'uint8 STATUS_OK=0' in text.split('=' * 80)[0]
    assert '\nMSG: std_msgs/msg/Header\n' in text and '\nMSG: builtin_interfaces/msg/Time\n' in text
    assert text.count('MSG: builtin_interfaces/msg/Time') == 1  # once, however often it is used


def test_a_recording_reads_back_message_for_message(tmp_path, profile):
    messages = known_run(profile, middle_split(profile), seconds=5)
    rec = read_recording(write_recording(tmp_path / 'run.mcap', messages))
    sent = [m for _, topic, m in messages if topic.endswith('frame_timing')]
    got = [m.msg for m in rec.of('frame_timing')]
    assert len(got) == len(sent) > 5 and rec.problems == []
    assert [(g.frame_seq, g.split, g.payload_bytes) for g in got] == [(s.frame_seq, s.split, s.payload_bytes)
                                                                      for s in sent]
    assert got[3].cloud_compute_ms == pytest.approx(sent[3].cloud_compute_ms, rel=1e-6)
    assert rec.metadata['partnner_recording']['robot'] == '/robot' and rec.namespaces == {'/robot'}
    assert len(rec.of('diagnostics')) == 5 and rec.of('partition_state')[0].msg.policy == 'fixed'


def test_a_rosbag2_folder_reads_like_a_recording(tmp_path, profile):
    messages = known_run(profile, middle_split(profile), seconds=5)
    rec = read_recording(write_rosbag2(tmp_path / 'bag', messages))
    assert rec.problems == []
    assert len(rec.of('frame_timing')) == sum(t.endswith('frame_timing') for _, t, _ in messages)
    with pytest.raises(ValueError, match='no MCAP files'):
        read_recording(tmp_path)


def test_several_robots_must_be_told_apart(tmp_path, profile):
    messages = known_run(profile, middle_split(profile), seconds=3)
    other = [(t, topic.replace('/robot/', '/other/'), m) for t, topic, m in messages]
    path = write_recording(tmp_path / 'two.mcap', messages + other)
    with pytest.raises(ValueError, match='several robots'):
        read_recording(path)
    assert len(read_recording(path, robot='/other').of('frame_timing')) == len(read_recording(
        path, robot='/robot').of('frame_timing'))


def chunk_records(path: Path) -> tuple[int, int]:
    """Where the compressed records of the recording's middle chunk begin, and their length."""
    with open(path, 'rb') as f:
        chunks = make_reader(f).get_summary().chunk_indexes
    chunk = chunks[len(chunks) // 2]
    # opcode, length, start and end times, uncompressed size and CRC, compression name, records length
    start = chunk.chunk_start_offset + 1 + 8 + 8 + 8 + 8 + 4 + 4 + len(chunk.compression) + 8
    return start, chunk.compressed_size


@pytest.mark.parametrize('damage', ['truncated', 'corrupted', 'compression header corrupted'])
def test_a_damaged_recording_gives_what_it_holds(tmp_path, profile, profile_file, damage):
    path = write_recording(tmp_path / 'run.mcap', known_run(profile, middle_split(profile), seconds=600))
    whole = len(read_recording(path).of('frame_timing'))
    data = bytearray(path.read_bytes())
    start, size = chunk_records(path)
    if damage == 'truncated':
        data = data[:len(data) // 2]
    else:  # in the middle of the chunk's data, or where its zstd frame begins
        at = start + (size // 2 if damage == 'corrupted' else 0)
        data[at:at + 64] = bytes(64)
    path.write_bytes(bytes(data))
    rec = read_recording(path)
    assert 0 < len(rec.of('frame_timing')) < whole
    assert rec.problems and 'unreadable after' in rec.problems[0]
    done = subprocess.run([*REPLAY, str(path), '--profile', str(profile_file), '--policy', 'edge_only,cloud_only'],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and 'Traceback' not in done.stderr, done.stderr[-2000:]
    assert 'unreadable after' in done.stderr and 'live (fixed)' in done.stdout


def test_the_link_the_robot_and_the_server_are_recovered_from_a_known_run(tmp_path, profile):
    k = middle_split(profile)
    cond = conditions(read_recording(write_recording(tmp_path / 'run.mcap', known_run(profile, k))), profile)
    assert cond.model == 'resnet18' and cond.policy == 'fixed' and cond.delay_ms == pytest.approx(DELAY_MS)
    assert cond.edge_factor == pytest.approx(5.0, rel=0.05) and cond.cloud_factor == pytest.approx(1.0, rel=0.05)
    assert cond.edge_load.change_times == [] and cond.cloud_load.change_times == []  # steady machines
    rate = np.array([cond.trace.rate_at(t) for t in np.arange(1.0, 19.0, 0.25)]) / 1e6
    t = np.arange(1.0, 19.0, 0.25)
    # a transfer that straddles the step sees a rate between the two; elsewhere each step's rate
    assert np.median(rate[t < 9.5]) == pytest.approx(20.0, rel=0.05)
    assert np.median(rate[t > 11.0]) == pytest.approx(4.0, rel=0.05)
    assert cond.fps == pytest.approx(2.0, rel=0.05)


def test_the_replay_predicts_the_recorded_split(tmp_path, profile):
    k = middle_split(profile)
    cond = conditions(read_recording(write_recording(tmp_path / 'run.mcap', known_run(profile, k, seconds=40))),
                      profile)
    runs, summary, notes = replay(cond, profile, ('partnner', 'edge_only', 'cloud_only'))
    assert notes == [] and {'oracle', 'partnner', 'edge_only', 'cloud_only', f'split {k}', 'live'} == set(summary)
    row, error = prediction(summary, cond)
    assert row == f'split {k}' and abs(error) < 0.05, (summary[row]['mean_ms'], summary['live']['mean_ms'])
    assert summary['oracle']['mean_ms'] <= summary[row]['mean_ms'] * 1.001


def test_the_replay_command_writes_the_trace_and_the_plot(tmp_path, profile, profile_file):
    path = write_recording(tmp_path / 'run.mcap', known_run(profile, middle_split(profile)))
    done = subprocess.run([*REPLAY, str(path), '--profile', str(profile_file), '--json',
                           '--trace-out', str(tmp_path / 'link.txt'), '--plot', str(tmp_path / 'plots')],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert {'partnner', 'best_static', 'neurosurgeon', 'ans', 'live'} <= set(out['policies'])
    assert abs(out['recorded_policy']['error']) < 0.1
    trace = Trace.load(tmp_path / 'link.txt')
    assert trace.rate_at(3.0) == pytest.approx(20e6, rel=0.1) and trace.rate_at(15.0) == pytest.approx(4e6, rel=0.1)
    assert (tmp_path / 'plots' / 'replay.png').stat().st_size > 10_000
    missing = subprocess.run([*REPLAY, str(tmp_path / 'none.mcap')],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and 'no recording at' in missing.stderr and 'Traceback' not in missing.stderr
