"""Open every page of a built HTML site in headless Chromium and fail on what a reader would see.

    python .ci/check_site.py BUILD_DIR [--chromium PATH] [--chromedriver PATH] [--width PX]

Each ``*.html`` file under BUILD_DIR is loaded from its ``file://`` URL, after the page's
``load`` event, and checked for:

- broken images: an ``<img>`` whose ``complete`` is true and whose ``naturalWidth`` is 0
  (a missing or unreadable file), or one that never finished loading;
- JavaScript errors: entries of level SEVERE in the browser's console log (uncaught
  exceptions, failed script loads, ``console.error``);
- tables wider than the text column (horizontal overflow), at a desktop window width.

It prints how many pages it checked and how many images it saw, and exits 1 listing every
page and problem when there is any; 2 when it cannot run at all (no selenium, no Chromium or
chromedriver, no HTML pages). Needs ``pip install selenium`` (the ``browser`` extra) and, on
Debian/Ubuntu, ``apt-get install chromium chromium-driver``. Nothing is fetched from the
network: the site's own files are all it reads.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

# Collected in the page after it has loaded. An image with loading="lazy" outside the viewport
# is not fetched at all by a headless browser, so each is switched to eager loading first and
# the check waits (a little) for the images that are still arriving.
IMAGES_JS = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
for (const img of images) { if (img.loading === "lazy") { img.loading = "eager"; } }
const started = Date.now();
function report() {
  const pending = images.filter((img) => !img.complete);
  if (pending.length && Date.now() - started < 10000) { setTimeout(report, 50); return; }
  done(images.map((img) => ({
    src: img.currentSrc || img.getAttribute("src") || "",
    complete: img.complete,
    width: img.naturalWidth,
  })));
}
report();
"""

# A table is too wide when it is wider than the text column it sits in (furo wraps tables in
# a scrolling container, so the page itself does not overflow: the table scrolls instead).
TABLES_JS = """
const column = document.querySelector("article") || document.body;
const limit = column.getBoundingClientRect().width;
return Array.from(column.querySelectorAll("table")).map((table, index) => ({
  index: index,
  width: Math.ceil(table.getBoundingClientRect().width),
  column: Math.floor(limit),
  caption: (table.querySelector("th") || table).textContent.trim().slice(0, 40),
})).filter((t) => t.width > t.column + 1);
"""


def _driver(chromium: str, chromedriver: str, width: int, profile: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--allow-file-access-from-files",
        f"--window-size={width},1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    return driver


def check_page(driver, page: Path) -> tuple[list[str], int]:
    """The problems of one page, and the number of images on it."""
    driver.get(page.resolve().as_uri())
    problems = []
    images = driver.execute_async_script(IMAGES_JS)
    for img in images:
        if not img["complete"]:
            problems.append(f"image did not finish loading: {img['src']}")
        elif img["width"] == 0:
            problems.append(f"broken image: {img['src']}")
    for table in driver.execute_script(TABLES_JS):
        problems.append(
            f"table {table['index'] + 1} ({table['caption']!r}...) is {table['width']} px wide, "
            f"wider than the {table['column']} px text column"
        )
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE":
            problems.append(f"console error: {entry.get('message', '').strip()}")
    return problems, len(images)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the built HTML folder (sphinx-build -b html)")
    parser.add_argument("--chromium", default=None, help="the browser (default: on PATH)")
    parser.add_argument("--chromedriver", default=None, help="its driver (default: on PATH)")
    parser.add_argument(
        "--width", type=int, default=1400, help="window width in px (default 1400, desktop)"
    )
    args = parser.parse_args(argv)

    try:
        import selenium  # noqa: F401
    except ImportError:
        print("check_site: selenium is not installed (pip install selenium)", file=sys.stderr)
        return 2
    chromium = args.chromium or next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
    )
    chromedriver = args.chromedriver or shutil.which("chromedriver")
    if not chromium or not chromedriver:
        print(
            f"check_site: needs Chromium and chromedriver (found browser: {chromium}, driver: "
            f"{chromedriver}); on Debian/Ubuntu: apt-get install chromium chromium-driver",
            file=sys.stderr,
        )
        return 2
    pages = sorted(p for p in args.site.rglob("*.html") if "_sources" not in p.parts)
    if not pages:
        print(f"check_site: no HTML pages under {args.site}", file=sys.stderr)
        return 2

    started = time.monotonic()
    failures: dict[str, list[str]] = {}
    n_images = 0
    with tempfile.TemporaryDirectory(prefix="check-site-profile-") as profile:
        driver = _driver(chromium, chromedriver, args.width, profile)
        try:
            print(f"browser: {driver.capabilities.get('browserVersion', '?')} ({chromium})")
            for page in pages:
                name = page.relative_to(args.site).as_posix()
                try:
                    problems, count = check_page(driver, page)
                except Exception as error:  # a page that hangs or crashes the browser
                    problems, count = [f"could not be checked: {type(error).__name__}: {error}"], 0
                n_images += count
                if problems:
                    failures[name] = problems
        finally:
            driver.quit()

    seconds = time.monotonic() - started
    print(f"pages checked: {len(pages)}, images seen: {n_images} ({seconds:.1f} s)", flush=True)
    if failures:
        n = sum(map(len, failures.values()))
        print(f"FAILED: {n} problem(s) on {len(failures)} page(s):", file=sys.stderr)
        for name, problems in failures.items():
            for problem in problems:
                print(f"  {name}: {problem}", file=sys.stderr)
        return 1
    print("no broken images, no JavaScript errors, no overflowing tables")
    return 0


if __name__ == "__main__":
    sys.exit(main())
