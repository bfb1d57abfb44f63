"""The code gate, part of ``./run test`` and CI: ruff (style, pyflakes, docstrings,
bugbear), mypy on the packages that declare types, the size limits the README's
Layout section states, and a partition manager that never loads torch."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / 'partnner_ros'
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', *argv], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize('argv', [('ruff', 'check', '.'), ('mypy',)], ids=['ruff', 'mypy'])
def test_the_code_passes(argv):
    out = run(*argv)
    assert out.returncode == 0, out.stdout + out.stderr


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob('*.py'))


def test_no_module_is_over_the_line_limit():
    long = {str(p.relative_to(ROOT)): n for p in sources() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f'modules over {MAX_MODULE_LINES} lines: {long}'


def test_no_function_is_over_the_line_limit():
    long = {}
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f'{path.relative_to(ROOT)}:{node.lineno} {node.name}'] = lines
    assert not long, f'functions over {MAX_FUNCTION_LINES} lines: {long}'


def test_the_adaptation_core_and_the_partition_manager_load_no_torch():
    """The manager is a small process on the robot: torch would cost it hundreds of MB and seconds."""
    modules = [f'partnner_ros.core.adaptation.{p.stem}' for p in (PACKAGE / 'core' / 'adaptation').glob('*.py')]
    modules.append('partnner_ros.nodes.partition_manager')
    code = (f'import sys, {", ".join(modules)}; '
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'ultralytics')))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[]'
