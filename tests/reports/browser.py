"""Headless Chromium for looking at the HTML report the way a person would (Debian's ``chromium`` package).

Console messages reach stderr as ``INFO:CONSOLE...] "text"`` lines with ``--enable-logging=stderr --v=0``;
``--dump-dom`` prints the DOM after scripts ran, so a changed ``<title>`` shows whether an injected script ran.

``python tests/reports/browser.py`` re-renders the bundled samples and refreshes docs/screenshot-eyes-off.png
(the top of the report) and docs/diagram-eyes-off.png / docs/diagram-hardened.png (the access diagram alone).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio"]
CONSOLE = re.compile(r":CONSOLE[^\]]*\]\s*(.*)")


def find_chromium() -> str | None:
    for name in (os.environ.get("FLAUDIT_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@dataclass
class Page:
    dom: str
    console: list[str]


def _run(chromium: str, args: list[str], workdir: Path) -> subprocess.CompletedProcess[str]:
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir))
    env = {**os.environ, "HOME": str(profile)}
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120, env=env, check=False)


def load(chromium: str, html: Path, workdir: Path, fragment: str = "") -> Page:
    """The DOM after load (optionally opened at ``#fragment``), and every console message the page produced."""
    url = html.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    proc = _run(chromium, ["--enable-logging=stderr", "--v=0", "--dump-dom", url], workdir)
    if proc.returncode != 0 or "<html" not in proc.stdout:
        raise RuntimeError(f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return Page(proc.stdout, [m.group(1) for m in CONSOLE.finditer(proc.stderr)])


def screenshot(chromium: str, html: Path, png: Path, workdir: Path, *, width: int = 1400, height: int = 2600) -> Path:
    proc = _run(chromium, [f"--window-size={width},{height}", f"--screenshot={png.resolve()}",
                           html.resolve().as_uri()], workdir)
    if not png.is_file() or png.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot ({proc.returncode}): {proc.stderr[-2000:]}")
    return png


def print_pdf(chromium: str, html: Path, pdf: Path, workdir: Path) -> Path:
    proc = _run(chromium, ["--no-pdf-header-footer", f"--print-to-pdf={pdf.resolve()}", html.resolve().as_uri()],
                workdir)
    if not pdf.is_file() or pdf.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no PDF ({proc.returncode}): {proc.stderr[-2000:]}")
    return pdf


def sample_result(name: str) -> dict:
    """A bundled sample, audited the way ``flaudit scan --sample NAME`` does, at a fixed time."""
    from flaudit.audit import run_audit
    from flaudit.config import load_config
    from flaudit.inventory import SourceInfo
    from flaudit.sources.files import parse_snapshot
    from flaudit.sources.samples import config_path, sample_text

    inv = parse_snapshot(json.loads(sample_text(name)), f"sample:{name}")
    inv.sources = [SourceInfo("sample", f"sample:{name}", len(inv.resources))]
    return run_audit(inv, load_config(config_path()), generated_at="2026-11-30T06:00:00+00:00")


def diagram_page(report_html: str) -> str:
    """The report reduced to its header and the access diagram section (same styles, same CSP)."""
    start = report_html.index('<section id="diagram"')
    end = report_html.index("</section>", report_html.index('<div class="diagram-wrap">', start)) + len("</section>")
    return report_html[: report_html.index("<main>") + len("<main>")] + report_html[start:end] + "</main></body></html>"


def main() -> int:
    from flaudit.reports import html as html_report

    chromium = find_chromium()
    if not chromium:
        print("chromium not found (apt-get install chromium)", file=sys.stderr)
        return 1
    docs = Path(__file__).resolve().parents[2] / "docs"
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "eyes-off.html"
        page.write_text(html_report.render(sample_result("eyes-off")), encoding="utf-8")
        screenshot(chromium, page, docs / "screenshot-eyes-off.png", Path(tmp),
                   width=int(os.environ.get("SHOT_W", "1280")), height=int(os.environ.get("SHOT_H", "1800")))
        print(docs / "screenshot-eyes-off.png")
        for name in ("eyes-off", "hardened"):
            page = Path(tmp) / f"{name}-diagram.html"
            page.write_text(diagram_page(html_report.render(sample_result(name))), encoding="utf-8")
            screenshot(chromium, page, docs / f"diagram-{name}.png", Path(tmp), width=1400, height=1000)
            print(docs / f"diagram-{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
