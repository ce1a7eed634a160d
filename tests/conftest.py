import pathlib

import pytest

DATA = pathlib.Path(__file__).parent / "data"


def manifest(path: pathlib.Path):
    """Rows of a tab-separated manifest, without the header comment."""
    rows = []
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        rows.append(line.split("\t"))
    return rows


@pytest.fixture
def data_dir() -> pathlib.Path:
    return DATA
