"""The main job: partnner demo runs the whole system as processes and reports."""

import json
import os
import shutil
import subprocess

import pytest

from partnner_ros.core.adaptation.frames import stamp_ns
from partnner_ros.core.recording.bag import read_recording


def test_demo_reports_every_frame_and_writes_its_outputs(tmp_path):
    exe = shutil.which('partnner')
    assert exe, 'partnner is not on PATH'
    recording = tmp_path / 'run.mcap'
    out = subprocess.run([exe, 'demo', '--frames', '8', '--policy', 'fixed', '--split', '5', '--json',
                          '--namespace', f'/demo_test_{os.getpid()}', '--out', str(tmp_path),
                          '--record', str(recording)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    summary = json.loads(out.stdout)
    assert summary['frames_in'] == 8 and summary['results_out'] == 8
    assert summary['lost'] == summary['dropped'] == summary['rejected'] == summary['failed'] == 0
    assert summary['per_split']['5']['frames'] == 8 and summary['per_split']['5']['payload_bytes'] > 0
    assert summary['probes'] == 0 and summary['probe_server_share'] == summary['probe_uplink_mbps'] == 0
    assert summary['e2e_p95_ms'] >= summary['e2e_mean_ms'] > 0
    assert 'random weights' in summary['note'] and 'random weights' in out.stderr
    for key in ('overlay_image', 'latency_plot', 'summary'):
        assert os.path.getsize(summary[key]) > 500, key
    assert 'ready after' in out.stderr

    # the recording holds every frame's timing and result, and replays
    rec = read_recording(summary['recording'])
    assert rec.problems == [] and rec.namespaces == {f'/demo_test_{os.getpid()}'}
    assert sorted(m.msg.frame_seq for m in rec.of('frame_timing') if not m.msg.probe) == list(range(8))
    assert rec.of('partition_state')[-1].msg.split == 5 and rec.of('cloud_status')
    assert any(s.name.endswith('/recorder') for m in rec.of('diagnostics') for s in m.msg.status)
    # the model profiled here first (and cached), as a user's first replay does
    replayed = subprocess.run([exe, 'replay', str(recording), '--profile-cache', str(tmp_path / 'profiles'), '--json'],
                              capture_output=True, text=True, timeout=600)
    assert replayed.returncode == 0, replayed.stderr
    result = json.loads(replayed.stdout)
    assert result['model'] == 'yolov8n' and result['conditions']['served'] == 8
    # the live row is the recording's own latency: each timing's arrival at the recorder less its camera
    # stamp; the demo's subscriber got the same timings a few ms apart from the recorder
    recorded = [(m.log_ns - stamp_ns(m.msg.header.stamp)) / 1e6 for m in rec.of('frame_timing') if not m.msg.probe]
    assert result['policies']['live']['mean_ms'] == pytest.approx(sum(recorded) / len(recorded), rel=1e-6)
    assert result['policies']['live']['mean_ms'] == pytest.approx(summary['e2e_mean_ms'], rel=0.25)
    assert result['recorded_policy']['row'] == 'split 5'


def test_the_default_policy_probes_and_the_summary_counts_frames_only(tmp_path):
    out = subprocess.run([shutil.which('partnner'), 'demo', '--frames', '12', '--json',
                          '--namespace', f'/demo_probe_{os.getpid()}', '--out', str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    s = json.loads(out.stdout)
    assert s['policy'] == 'partnner' and s['probes'] > 0
    # the first frames run on the edge and probe the cloud with the image every other frame
    assert 0 < s['probe_server_share'] < 1 and s['probe_uplink_mbps'] > 0
    assert s['frames_in'] == 12
    assert s['frames_in'] == s['results_out'] + s['dropped'] + s['lost'] + s['rejected'] + s['failed'] + s['no_outcome']
    assert sum(split['frames'] for split in s['per_split'].values()) == s['results_out'] > 0
