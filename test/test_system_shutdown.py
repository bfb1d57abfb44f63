"""Stopping the nodes (Ctrl-C, as ros2 launch and the demo do) while frames are in flight: each exits
0 without a traceback, and the recorder keeps every message sent to it up to that moment."""

from ros_system import System

from partnner_ros.core.recording.bag import read_recording
from partnner_ros.msg import FrameTiming
from partnner_ros.nodes import qos


def test_nodes_stop_quietly_with_frames_in_flight(ros, tmp_path, photos):
    system = System(tmp_path / 'logs', model='resnet18', threads=1)
    system.start('cloud')
    system.start('edge')
    system.start('partition_manager', policy='fixed', split=20)
    try:
        system.wait_ready(split=20)
        system.run_frames(photos[:2])
        for i in range(10):  # no waiting: the edge and the cloud are busy when the stop comes
            system.publish_image(photos[i % len(photos)])
            system.spin_for(0.03)
    finally:
        procs = dict(system.procs)
        system.stop()
    logs = system.logs()
    assert {name: p.returncode for name, p in procs.items()} == dict.fromkeys(procs, 0), logs
    assert 'Traceback' not in logs and 'Error' not in logs, logs


def test_the_recorder_keeps_what_was_sent_just_before_it_stopped(ros, tmp_path):
    system = System(tmp_path / 'logs')
    out = tmp_path / 'run.mcap'
    system.start('recorder', out=str(out))
    pub = system.node.create_publisher(FrameTiming, 'frame_timing', qos.RESULTS)
    warm_up = 1000

    def recorded_warm_up() -> bool:
        # the recorder's reader may match the publisher later than the publisher matches it; until then
        # a volatile reader drops what is sent, so wait until a timing is in the file (flushed each second)
        system.spin_for(0.25)
        pub.publish(FrameTiming(frame_seq=warm_up))
        return out.exists() and any(m.msg.frame_seq == warm_up for m in read_recording(out).of('frame_timing'))
    system.spin_until(recorded_warm_up, 60, 'the recorder to record a timing')
    for seq in range(40):
        pub.publish(FrameTiming(frame_seq=seq))
    system.stop()  # at once: the last messages are still on their way
    rec = read_recording(out)
    assert rec.problems == []
    assert [m.msg.frame_seq for m in rec.of('frame_timing') if m.msg.frame_seq != warm_up] == list(range(40))
    logs = system.logs()
    assert 'recorded ' in logs and 'Traceback' not in logs, logs
