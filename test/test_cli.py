"""The installed partnner executable: models, profile, verify, simulate and report."""

import json
import shutil
import subprocess
import sys

import pytest

PARTNNER = shutil.which('partnner')


def run(*args):
    assert PARTNNER, 'the partnner executable is not on PATH (is the colcon install sourced?)'
    return subprocess.run([PARTNNER, *args], capture_output=True, text=True, timeout=600)


def test_models_lists_the_zoo():
    out = run('models', '--json')
    assert out.returncode == 0
    names = {m['name'] for m in json.loads(out.stdout)}
    assert {'yolov8n', 'yolo11n', 'resnet18', 'resnet50', 'mobilenet_v3_large', 'efficientnet_b0', 'vgg16',
            'ssdlite320_mobilenet_v3_large'} == names


def test_profile_json_reports_yolov8n_cuts():
    out = run('profile', 'yolov8n', '--json', '--repeats', '1', '--codec', 'fp32', '--codec', 'int8+zstd',
              '--codec', 'jpeg')
    assert out.returncode == 0, out.stderr
    prof = json.loads(out.stdout)
    cuts = {c['split']: c for c in prof['cuts']}
    assert prof['num_layers'] == 23 and sorted(cuts) == list(range(24))
    for k in (4, 5):
        assert [t['shape'] for t in cuts[k]['live']] == [[1, 64, 80, 80]]
        assert cuts[k]['bytes']['fp32'] == 1_638_400
        assert cuts[k]['bytes']['int8+zstd'] < 409_600
    assert cuts[0]['bytes']['jpeg'] < 300_000 and 'jpeg' not in cuts[4]['bytes']
    assert cuts[23]['bytes'] == {} and cuts[23]['cloud_ms'] == 0
    assert all(c['edge_ms'] + c['cloud_ms'] == pytest.approx(prof['total_ms']) for c in prof['cuts'])
    assert all(layer['ms'] > 0 for layer in prof['layers'])


def test_profile_rejects_unknown_codec():
    out = run('profile', 'resnet18', '--codec', 'fp64')
    assert out.returncode == 2 and 'unknown codec' in out.stderr


def test_verify_passes_and_reports():
    out = run('verify', 'ssdlite320_mobilenet_v3_large')
    assert out.returncode == 0, out.stdout + out.stderr
    assert '25/25 splits match the full forward (bit-exact)' in out.stdout
    bad = run('verify', 'resnet18', '--splits', '999')
    assert bad.returncode == 2 and 'no split' in bad.stderr


@pytest.fixture(scope='module')
def resnet18_profile(tmp_path_factory):
    out = run('profile', 'resnet18', '--json', '--repeats', '1')
    assert out.returncode == 0, out.stderr
    path = tmp_path_factory.mktemp('profiles') / 'resnet18.json'
    path.write_text(out.stdout)
    return path


def write_trace(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(f'{t} {mbps}\n' for t, mbps in rows))
    return path


def test_simulate_compares_every_policy_with_the_oracle(resnet18_profile, tmp_path):
    for name, rows in (('fast', [(0, 50.0), (10, 50.0)]), ('steps', [(0, 20.0), (10, 0.2), (20, 20.0)])):
        write_trace(tmp_path / 'traces' / f'{name}.txt', rows)
    out = run('simulate', '--model', 'resnet18', '--profile', str(resnet18_profile), '--trace',
              str(tmp_path / 'traces'), '--duration', '30', '--json')
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data['traces']) == {'fast', 'steps'} and data['platform']['edge_slowdown'] == 10
    overall = data['overall']
    assert set(overall) == {'oracle', 'partnner', 'edge_only', 'cloud_only', 'best_static', 'informed', 'neurosurgeon',
                            'ans'}
    assert overall['informed']['x_oracle'] <= overall['best_static']['x_oracle']
    # the oracle is the per-frame bound; a policy stuck on a slow split serves fewer frames
    # while the link is down (one frame through the 10 s outage), so its mean over the frames
    # it served may dip below the oracle's, by how much depending on this machine's profile
    assert overall['oracle']['x_oracle'] == 1.0
    assert all(row['x_oracle'] >= 0.9 for row in overall.values()), {k: r['x_oracle'] for k, r in overall.items()}
    assert overall['partnner']['x_oracle'] < overall['edge_only']['x_oracle']
    assert data['traces']['steps']['partnner']['convergence_frames_median'] is not None
    table = run('simulate', '--model', 'resnet18', '--profile', str(resnet18_profile), '--trace',
                str(tmp_path / 'traces' / 'steps.txt'), '--duration', '30', '--policy', 'partnner,edge_only')
    assert table.returncode == 0 and 'partnner' in table.stdout and 'x oracle' in table.stdout


def data_choices_sum_to_one(rows: dict) -> bool:
    """Whether every policy's 'choices' (edge-only, cloud-only and intermediate by codec) in ``rows``
    (cells or traces of policy -> summary) add up to all its frames.
    """
    for row in rows.values():
        for summary in row.values():
            c = summary['choices']
            if sum(c['cloud_only'].values()) + sum(c['intermediate'].values()) + c['edge_only'] != pytest.approx(1):
                return False
    return bool(rows)


def test_simulate_chooses_the_codec_with_the_split(resnet18_profile):
    prof = json.loads(resnet18_profile.read_text())
    assert any(cut.get('fidelity') for cut in prof['cuts']), 'the profile fixture should measure fidelity'
    common = ('simulate', '--model', 'resnet18', '--profile', str(resnet18_profile), '--trace',
              'gen:lognormal,cv=1.0,mean=2,seed=1', '--duration', '20', '--json')
    out = run(*common, '--choose-codecs')
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data['choose_codecs'] and data['codec_options'] and not data['codec_note']
    assert data_choices_sum_to_one(data['traces']) and data_choices_sum_to_one({'overall': data['overall']})
    oracle = data['overall']['oracle']['choices']
    used = set(oracle['cloud_only']) | set(oracle['intermediate'])
    defaults = {'jpeg', 'fp16+lz4'}
    best_static = data['overall']['best_static']
    assert used - defaults or set(best_static['choices']['cloud_only']) - defaults, (oracle, best_static)
    assert 0 <= data['overall']['partnner']['probe_uplink_share'] < 0.5
    # without the flag every frame keeps the default codecs
    plain = json.loads(run(*common).stdout)['overall']
    assert all(set(s['choices']['cloud_only']) | set(s['choices']['intermediate']) <= defaults
               for s in plain.values())
    # a profile without fidelity allows no other codec, and says so
    for cut in prof['cuts']:
        cut.pop('fidelity', None)
    old = resnet18_profile.with_name('old.json')
    old.write_text(json.dumps(prof))
    out = run('simulate', '--model', 'resnet18', '--profile', str(old), '--trace', 'gen:lognormal,cv=1.0,mean=2',
              '--duration', '10', '--policy', 'partnner', '--choose-codecs')
    assert out.returncode == 0, out.stderr
    assert 'no fidelity figures' in out.stdout and 'edge-only' in out.stdout


def test_simulate_refuses_bad_input(resnet18_profile, tmp_path):
    bad = write_trace(tmp_path / 'bad.txt', [(0, 1.0), (0, 2.0)])
    common = ('simulate', '--model', 'resnet18', '--profile', str(resnet18_profile))
    out = run(*common, '--trace', str(bad))
    assert out.returncode == 2 and 'sample times must increase' in out.stderr
    out = run(*common, '--trace', str(tmp_path / 'missing.txt'))
    assert out.returncode == 2 and 'no trace file' in out.stderr
    out = run(*common, '--trace', str(bad), '--policy', 'magic')
    assert out.returncode == 2 and 'unknown policy' in out.stderr


def test_report_writes_tables_and_plots(resnet18_profile, tmp_path):
    cache = tmp_path / 'profiles'
    cache.mkdir()
    (cache / 'resnet18.json').write_text(resnet18_profile.read_text())
    for family in ('hsdpa', 'fcc'):
        write_trace(tmp_path / 'traces' / family / 'a.txt', [(0, 5.0), (10, 0.5), (20, 5.0)])
    out = run('report', '--models', 'resnet18', '--platforms', 'edge10x', '--traces', str(tmp_path / 'traces'),
              '--traces-per-family', '1', '--duration', '30', '--profile-cache', str(cache),
              '--presets', 'rpi4-t4', '--gen-seeds', '1', '--gen-means', '1.5', '--out', str(tmp_path / 'report'))
    assert out.returncode == 0, out.stderr
    md = (tmp_path / 'report' / 'report.md').read_text()
    assert 'resnet18' in md and 'hsdpa' in md.lower() and 'neurosurgeon' in md
    # codec choice is on by default: the section on the codec chosen with the split, and its data
    assert 'codec choice on' in md and '## Codec chosen with the split' in md
    assert '| resnet18 | edge10x | partnner |' in md and 'partnner probes: uplink / after 10 s / server' in md
    assert data_choices_sum_to_one(json.loads((tmp_path / 'report' / 'report.json').read_text())['cells'])
    data = json.loads((tmp_path / 'report' / 'report.json').read_text())
    assert set(data['cells']) == {'resnet18|edge10x|hsdpa', 'resnet18|edge10x|fcc'}
    # the informed reference is never above the best fixed split, and is described
    assert all(c['informed']['x_oracle'] <= c['best_static']['x_oracle'] for c in data['cells'].values())
    assert '| family | partnner | best_static | informed |' in md and 'core/simulation/informed.py' in md
    # the probes' uplink share in steady state, after the start-up
    assert 'uplink after 10 s' in md and all(0 <= c['partnner']['probe_uplink_share_steady'] < 0.5
                                                for c in data['cells'].values())
    assert list((tmp_path / 'report').glob('*.png'))
    # the PArtNNer table: the published Pi 4 + T4 platform over Neurosurgeon's three links, beside the paper
    assert "## PArtNNer's comparison on published platforms" in md
    assert '| resnet18 | rpi4-t4 |' in md and '3G: vs edge / vs cloud' in md and 'Wi-Fi: vs edge / vs cloud' in md
    assert '| PArtNNer paper (ACM TECS 2023) | 10.2x / 21.1x | 3.2x / 6.7x |' in md
    assert '**Where and why the figures differ.**' in md
    paper = data['paper']
    assert set(paper['cells']) == {f'resnet18|rpi4-t4|{link}' for link in ('3g', 'lte', 'wifi')}
    assert paper['links']['lte']['mbps'] == 5.85
    pi = paper['presets']['rpi4-t4']['models']['resnet18']
    assert pi['edge_ms'] == 123.12 and pi['edge_ms'] > 100 * pi['server_ms']
    assert all(c['vs_edge'] > 0.9 and c['vs_cloud'] > 0 for c in paper['cells'].values())
    # the generated families: three kinds at three CVs, one trace each (one mean, one seed)
    assert '## Generated link families' in md and '| markov-cv1.5 |' in md
    gen = data['generated']
    assert len(gen['families']) == 9 and all(len(t) == 1 for t in gen['families'].values())
    assert set(gen['cells']) == {f'resnet18|edge10x|{f}' for f in gen['families']}


def test_simulate_takes_a_preset_and_a_generated_link(resnet18_profile):
    out = run('simulate', '--model', 'resnet18', '--profile', str(resnet18_profile), '--platform', 'rpi4-t4',
              '--trace', 'gen:onoff,cv=1.0,mean=2,seed=3,seconds=20', '--policy', 'partnner,edge_only', '--json')
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data['platform']['name'] == 'rpi4-t4'
    assert data['platform']['edge_slowdown'] * data['platform']['cloud_speedup'] > 100  # Pi 4 vs T4
    assert list(data['traces']) == ['onoff-cv1-m2-s3']
    bad = run('simulate', '--model', 'resnet18', '--profile', str(resnet18_profile), '--platform', 'pi9',
              '--trace', 'gen:onoff,cv=1.0,mean=2')
    assert bad.returncode == 2 and 'a platform is one of' in bad.stderr


def test_a_ros_command_without_ros_says_what_is_missing():
    """A pip install has no rclpy: the demo must say so, not fail with a traceback."""
    code = ("import sys; sys.modules['rclpy'] = None; from partnner_ros.cli import main; "
            "sys.exit(main(['demo', '--frames', '1']))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert 'partnner demo needs ROS 2: rclpy is not importable' in out.stderr and 'Traceback' not in out.stderr
