"""Run every example script, the demo (examples/demo_churn.py) included."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))

pytest.importorskip("matplotlib")

# optional dependencies of single examples (all in the dev extra)
REQUIRES = {"plot_lightgbm_onnx.py": ("lightgbm", "onnx", "onnxruntime")}

#: Seconds an example may run (each takes well under a minute on 2 shared cores;
#: the limit only stops a hung script from hanging the suite).
TIMEOUT = 600


def _tail(stream):
    if stream is None:
        return ""
    if isinstance(stream, bytes):
        stream = stream.decode(errors="replace")
    return stream[-4000:]


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_example_runs(script, tmp_path):
    missing = [m for m in REQUIRES.get(script.name, ()) if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{script.name} needs {missing}")
    # one torch thread: robust when other processes share the 2 cores
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    code = f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{script.name} did not finish within {TIMEOUT} s and was killed\n"
            f"--- stdout ---\n{_tail(exc.stdout)}\n--- stderr ---\n{_tail(exc.stderr)}",
            pytrace=False,
        )
    assert proc.returncode == 0, (
        f"{script.name} exited with {proc.returncode}\n"
        f"--- stdout ---\n{_tail(proc.stdout)}\n--- stderr ---\n{_tail(proc.stderr)}"
    )
