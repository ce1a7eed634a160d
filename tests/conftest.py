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


def headless_chromium(width: int, height: int):
    """A Selenium driver for Debian's headless chromium (apt-get install chromium chromium-driver).
    Callers skip their module first when chromium is absent and FLAMEFOLD_REQUIRE_BROWSER is unset."""
    import shutil

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "FLAMEFOLD_REQUIRE_BROWSER=1 but chromium is not installed"
    driver_path = shutil.which("chromedriver")
    assert driver_path, "chromium is installed but chromedriver is not (apt-get install -y chromium-driver)"
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(driver_path), options=opts)
