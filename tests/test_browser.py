"""The study report in a real browser (marker ``browser``; ``make test-browser``
installs Debian's Chromium first): ``report.html`` renders its tables and every
embedded figure, and a screenshot is saved for a person to look at."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from runs.cli import main

from tests_support import tiny

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "out" / "screenshots"


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise AssertionError("Chromium is not installed: run `make test-browser`")
    return path


def headless(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    """Chromium headless, as this machine allows it (no network, no sandbox as root)."""
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]
    return subprocess.run(
        [chromium(), *flags, *args], capture_output=True, text=True, timeout=120, check=False
    )


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_report_html_renders_in_chromium(tmp_path):
    from runs.runner import run_study

    out = tmp_path / "study"
    run_study(tiny(), out, jobs=1, quiet=True)
    assert main(["plot", str(out)]) == 0
    page = out / "figures" / "report.html"
    dom = headless("--dump-dom", page.as_uri(), profile=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<h2>Summary</h2>" in dom.stdout and dom.stdout.count("<img") == 5
    assert "tiny: study report" in dom.stdout
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / "report.png"
    done = headless(
        "--window-size=1280,2400",
        f"--screenshot={shot}",
        page.as_uri(),
        profile=tmp_path / "profile2",
    )
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    assert png_size(shot) == (1280, 2400) and shot.stat().st_size > 50_000
