"""Take the README's picture of the interactive report: the demo's k-means report,
opened in headless chromium (Debian's, driven by Playwright), moved to a middle
iteration, and saved as a PNG.

Usage::

    python tools/report_screenshot.py kmix-demo/report.html [docs/figures/report.png]
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

# The slider's position: a middle frame, where the centres' paths are under way.
_FRACTION = 0.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path)
    parser.add_argument("output", nargs="?", default="docs/figures/report.png", type=Path)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    arguments = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=arguments)
        page = browser.new_page(viewport={"width": 1100, "height": 700})
        page.goto(args.report.resolve().as_uri())
        page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")
        page.evaluate(
            """fraction => {
                const slider = Bokeh.documents[0].get_model_by_name("iteration-slider");
                slider.value = Math.round(slider.start + fraction * (slider.end - slider.start));
            }""",
            _FRACTION,
        )
        page.wait_for_timeout(500)  # Bokeh redraws after the change, asynchronously
        args.output.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.output))  # the plots and the slider; the tables lie below
        browser.close()
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
