"""The browser tests' harness: Debian's Chromium through Playwright, screenshots for the
README, and axe-core's accessibility check.

- `chromium_problem()`: why Chromium cannot be used here (None when it can). The `browser`
  fixture (conftest.py) skips the browser tests with that reason on a developer's machine and
  fails them in CI (CI=true), where a skipped browser test would hide a missing install.
- `screenshot(page, name)`: writes docs/screenshots/<name>.png (the README shows them; commit
  what the tests write).
- `check_accessibility(page)`: runs axe-core (node_modules/axe-core/axe.min.js, installed by
  scripts/build-assets.sh) in the page and fails on any violation of impact serious or
  critical, listed readably.
- DESKTOP and PHONE: the viewports of the `desktop_page` / `phone_page` fixtures (and of
  `sized_page`, which runs a test once at each; its `viewport` fixture names the size).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("OUTAGE_NOTIFY_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--font-render-hinting=none",  # the same glyphs from one run to the next
]
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
# An ordinary phone (390 × 844 CSS pixels), touch, its own user agent's mobile layout.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 1,
}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
BLOCKING_IMPACTS = ("serious", "critical")


def chromium_problem() -> str | None:
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return None
    return f"Chromium not found at {CHROMIUM}: run scripts/system-deps.sh (make test does)"


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """docs/screenshots/<name>.png of the page as it is now."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # Written whole, then moved into place: the suite's two back ends run side by side.
    partial = path.with_name(f".{name}.{os.getpid()}.png")
    partial.write_bytes(page.screenshot(full_page=full_page, animations="disabled"))
    os.replace(partial, path)
    return path


def shot_name(name: str, viewport: str) -> str:
    """A screenshot's name at this viewport: "public-map", "public-map-phone"."""
    return name if viewport == "desktop" else f"{name}-{viewport}"


def axe_violations(page: Page, *, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (WCAG 2.1 A and AA, best practice)."""
    if not AXE.is_file():
        raise AssertionError(f"{AXE} is missing: run scripts/build-assets.sh (make test does)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async (exclude) => {
            const context = exclude.length ? {exclude: exclude.map((s) => [s])} : document;
            const result = await axe.run(context, {
                runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
                resultTypes: ["violations"],
            });
            return result.violations;
        }""",
        list(exclude),
    )


def check_accessibility(page: Page, *, exclude: tuple[str, ...] = ()) -> None:
    """Fails on any axe violation of impact serious or critical (exclude: CSS selectors of
    parts not to check, each with a reason at the call)."""
    blocking = [v for v in axe_violations(page, exclude=exclude) if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"axe on {page.url}:\n" + describe_violations(blocking)


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']} "
            f"<{violation['helpUrl']}>"
        )
        for node in violation["nodes"][:5]:
            target = " ".join(str(t) for t in node["target"])
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {target}: {summary}")
            lines.append(f"      {node['html'][:200]}")
        if len(violation["nodes"]) > 5:
            lines.append(f"    … and {len(violation['nodes']) - 5} more")
    return "\n".join(lines)
