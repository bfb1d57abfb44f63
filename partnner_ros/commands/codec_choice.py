"""The codec chosen with the split, as ``partnner simulate --choose-codecs`` and ``partnner report`` show it:
which codecs a profile lets a policy choose, why none when none, and the report's section on how often
the oracle and partnner use each split kind with each codec, and what partnner's probes cost.
"""

import numpy as np

from ..core.simulation.metrics import mean_choices

CHOICE_POLICIES = ('oracle', 'partnner')


def codec_options(profile) -> dict[str, list[int]]:
    """The codecs beyond the defaults that ``profile`` (a SimProfile) lets a policy choose, each with its splits."""
    out: dict[str, list[int]] = {}
    for split, codec, *_ in profile.extra:
        out.setdefault(codec, []).append(int(split))
    return out


def no_codec_reason(profile, measured: dict) -> str:
    """Why ``profile`` (a SimProfile of the ``measured`` profile dict) lets a policy choose no codec beyond
    the defaults, '' when it lets it choose some.
    """
    if profile.extra:
        return ''
    if not any(cut.get('fidelity') for cut in measured.get('cuts', [])):
        return ('its profile has no fidelity figures (made before fidelity was measured, or with --no-fidelity); '
                're-profile with "partnner profile --json" or delete the cached profile')
    return 'no candidate codec reaches the fidelity bound at any split'


def codec_note(profile, measured: dict) -> str:
    """What to tell the user when choosing codecs finds no candidate beyond the defaults ('' when it finds
    some); see :func:`no_codec_reason`.
    """
    why = no_codec_reason(profile, measured)
    return f'codec choice: no codec beyond the defaults for {profile.name}: {why}. Every policy keeps the defaults.' \
        if why else ''


def codec_choice_data(enabled: bool, codec: str, profiles: dict, measured: dict[str, dict]) -> dict:
    """The report's record of codec choice: on or off, the default codecs, and per model (``profiles``:
    model -> SimProfile, ``measured``: model -> profile dict) the codecs it may choose, or why none.
    """
    models = {m: {'options': codec_options(p), 'note': no_codec_reason(p, measured[m]) if enabled else ''}
              for m, p in profiles.items()}
    return {'enabled': enabled, 'codec': codec, 'input_codec': 'jpeg', 'models': models}


def _splits_text(splits: list[int]) -> str:
    """Splits as ranges: [1, 2, 3, 7] -> '1-3, 7'."""
    runs: list[list[int]] = []
    for k in sorted(splits):
        if runs and k == runs[-1][1] + 1:
            runs[-1][1] = k
        else:
            runs.append([k, k])
    return ', '.join(f'{a}' if a == b else f'{a}-{b}' for a, b in runs)


def _shares_text(shares: dict) -> str:
    total = sum(shares.values())
    if not shares:
        return '0%'
    return f'{total:.0%} (' + ', '.join(f'{c} {v:.0%}' for c, v in sorted(shares.items(), key=lambda x: -x[1])) + ')'


def _mean_max_share(cells: list[dict], policy: str, key: str) -> str:
    """``key`` of ``policy`` over ``cells`` (aggregated cells): the mean of their means and the max of their
    maxima (of their means, for cells without maxima).
    """
    means = [c[policy][key] for c in cells]
    maxima = [c[policy].get(f'{key}_max', c[policy][key]) for c in cells]
    return f'{np.mean(means):.1%} / {np.max(maxima):.1%}'


def codec_section(data: dict) -> list[str]:
    """Per model and platform: how often the oracle and partnner serve edge-only, cloud-only and at an
    intermediate split, with which codec (averaged over the link families), and partnner's probe cost.
    """
    choice = data.get('codec_choice')
    if not choice or not data['cells']:
        return []
    lines = ['', '## Codec chosen with the split', '']
    if choice['enabled']:
        lines += [f"The policies choose the codec with the split (`--choose-codecs`, the report's default): besides "
                  f"{choice['codec']} at intermediate splits and {choice['input_codec']} at split 0, they may send "
                  "any candidate codec the model's profile measured within its fidelity bound (0.95 IoU-matched "
                  'detection agreement for detectors, 0.99 top-1 agreement for classifiers, against fp32).', '']
        for model, m in choice['models'].items():
            same: dict[str, list[str]] = {}  # codecs allowed at the same splits, together
            for c, ks in m['options'].items():
                same.setdefault(_splits_text(ks), []).append(c)
            options = '; '.join(f"{', '.join(cs)} at split {ks}" for ks, cs in same.items())
            lines.append(f"- {model}: {options or 'none, ' + (m['note'] or 'no candidate codec')}")
    else:
        lines.append(f"Codec choice was off (`--no-choose-codecs`): every policy sent {choice['codec']} at "
                     f"intermediate splits and {choice['input_codec']} at split 0.")
    lines += ['', 'Share of served frames by split kind and codec, averaged over the link families above; '
              "partnner's shadow probes as a share of the uplink's capacity, over the whole run and after its "
              "first 10 s (the start-up probes every other frame), and of the server's time (the mean over the "
              'families, and the max over all their traces).', '',
              '| model | platform | policy | edge-only | cloud-only (split 0) | intermediate split | '
              'probes: uplink mean / max | uplink after 10 s | server mean / max |',
              '| --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    keys: dict[tuple[str, str], list[str]] = {}
    for key in data['cells']:
        model, platform, _ = key.split('|')
        keys.setdefault((model, platform), []).append(key)
    for (model, platform), cell_keys in keys.items():
        cells = [data['cells'][k] for k in cell_keys]
        for pol in CHOICE_POLICIES:
            c = mean_choices([cell[pol]['choices'] for cell in cells if 'choices' in cell[pol]])
            probes = ' | - | - | -' if pol != 'partnner' else ''.join(
                f' | {_mean_max_share(cells, pol, key)}'
                for key in ('probe_uplink_share', 'probe_uplink_share_steady', 'probe_server_share'))
            lines.append(f"| {model} | {platform} | {pol} | {c['edge_only']:.0%} | {_shares_text(c['cloud_only'])} "
                         f"| {_shares_text(c['intermediate'])}{probes} |")
    return lines
