"""Open the report in a real headless browser and take a screenshot of it.

    python -m phase6_report.browser PAGE.html SHOT.png

`images` opens the page the same way and reports what the browser made of its images: how many
there are and which did not decode (an image with no width is a broken one).

Uses Chromium's own `--screenshot` and `--dump-dom` modes (Debian's `chromium` package, or Google Chrome), with the
flags that keep it from reaching for the network. Where no browser is installed it says so and
exits 0: the screenshot is a check, not a product.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["BROWSERS", "NoBrowser", "find_browser", "images", "screenshot"]

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


def _chromium(page: Path, *flags: str, timeout: float) -> subprocess.CompletedProcess:
    """Run headless Chromium on `page` with `flags`, kept off the network, in a fresh profile."""
    browser = find_browser()
    with tempfile.TemporaryDirectory() as profile:
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}", *flags,
            page.as_uri(),
        ]  # fmt: skip
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def screenshot(
    page: str | Path, out: str | Path, width: int = 1000, height: int = 1400, timeout: float = 90
) -> Path:
    """Render `page` (a local HTML file) in headless Chromium and write a width x height PNG."""
    page, out = Path(page).resolve(), Path(out).resolve()
    if not page.is_file():
        raise FileNotFoundError(f"no page to open: {page}")
    flags = (f"--window-size={width},{height}", f"--screenshot={out}")
    done = _chromium(page, *flags, timeout=timeout)
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(
            f"{find_browser()} could not take the screenshot (exit {done.returncode}): "
            f"{done.stderr.strip()[-500:]}"
        )
    return out


#: added to a copy of the page: once it has loaded, write what became of each image into it
_IMAGE_PROBE = """<script>
window.addEventListener("load", () => {
  const all = Array.from(document.images);
  const broken = all.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt || i.src);
  const out = document.createElement("pre");
  out.id = "nnf-images";
  out.textContent = JSON.stringify({count: all.length, broken: broken,
                                    widths: all.map(i => i.naturalWidth)});
  document.body.appendChild(out);
});
</script>"""


def images(page: str | Path, timeout: float = 90) -> dict:
    """What headless Chromium made of the page's images: {"count": how many, "broken": the alt
    text of each that did not decode, "widths": each one's natural width in pixels}."""
    page = Path(page).resolve()
    text = page.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / page.name
        probe.write_text(text.replace("</body>", _IMAGE_PROBE + "</body>", 1), encoding="utf-8")
        done = _chromium(probe, "--dump-dom", "--virtual-time-budget=10000", timeout=timeout)
    found = re.search(r'<pre id="nnf-images">(.*?)</pre>', done.stdout, re.S)
    if found is None:
        raise RuntimeError(
            f"{find_browser()} did not report the page's images (exit {done.returncode}): "
            f"{done.stderr.strip()[-500:]}"
        )
    return json.loads(html.unescape(found.group(1)))


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
