"""Open the report in a real headless browser and take a screenshot of it.

    python -m phase6_report.browser PAGE.html SHOT.png

Uses Chromium's own `--screenshot` mode (Debian's `chromium` package, or Google Chrome), with the
flags that keep it from reaching for the network. Where no browser is installed it says so and
exits 0: the screenshot is a check, not a product.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["BROWSERS", "NoBrowser", "find_browser", "screenshot"]

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class NoBrowser(FileNotFoundError):
    """No Chromium-family browser on PATH."""


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise NoBrowser(
        f"no headless browser found (looked for {', '.join(BROWSERS)} on PATH); "
        "on Debian: apt-get install chromium"
    )


def screenshot(
    page: str | Path, out: str | Path, width: int = 1000, height: int = 1400, timeout: float = 90
) -> Path:
    """Render `page` (a local HTML file) in headless Chromium and write a width x height PNG."""
    page, out = Path(page).resolve(), Path(out).resolve()
    if not page.is_file():
        raise FileNotFoundError(f"no page to open: {page}")
    browser = find_browser()
    with tempfile.TemporaryDirectory() as profile:
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
            f"--window-size={width},{height}", f"--screenshot={out}", page.as_uri(),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(
            f"{browser} could not take the screenshot (exit {done.returncode}): "
            f"{done.stderr.strip()[-500:]}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        shot = screenshot(*args)
    except NoBrowser as e:
        print(f"screenshot skipped: {e}")
        return 0
    print(f"screenshot of the report in headless Chromium: {shot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
