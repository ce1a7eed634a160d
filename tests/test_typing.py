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
