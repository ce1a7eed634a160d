"""The shipped type stub matches the native module, and py.typed is installed."""

import importlib.resources
import os
import subprocess
import sys


def test_stub_matches_runtime(tmp_path):
    # run from an empty folder so that the installed package is checked
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "flamefold._flamefold"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_py_typed_is_shipped():
    files = importlib.resources.files("flamefold")
    assert files.joinpath("py.typed").is_file()
    assert files.joinpath("_flamefold.pyi").is_file()


def test_package_type_checks():
    import pathlib

    pkg = pathlib.Path(__file__).resolve().parent.parent / "python" / "flamefold"
    r = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", str(pkg)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_misspelt_options_are_type_errors(tmp_path):
    """flamegraph()'s options are typed keywords, as collapse_perf()'s are: a misspelt one is a
    mypy error, through the package's lazily loaded name too."""
    good = tmp_path / "good.py"
    good.write_text(
        "import flamefold\n"
        "svg: str = flamefold.flamegraph('a;b 1', title='t', width=600, minwidth='1%', inline=True)\n"
        "p = flamefold.collapse('x.perf', format='perf', pid=True)\n"
        "d = flamefold.diff('a', 'b', normalize=True, inline=True)\n"
    )
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import flamefold\n"
        "flamefold.flamegraph('a;b 1', titel='t')\n"
        "flamefold.flamegraph('a;b 1', width='wide')\n"
        "flamefold.collapse_perf('x', pidd=True)\n"
    )
    run = [sys.executable, "-m", "mypy", "--no-error-summary", "--no-incremental"]
    r = subprocess.run(run + [str(good)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(run + [str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert 'Unexpected keyword argument "titel"' in r.stdout, r.stdout
    assert 'Unexpected keyword argument "pidd"' in r.stdout, r.stdout
    assert "bad.py:3: error" in r.stdout, r.stdout
