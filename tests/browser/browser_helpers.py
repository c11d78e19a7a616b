"""Plain helpers for the browser tests: the stack's settings, screenshots, a stand-in syncer.

(The console tests' helpers live in another directory, which pytest does not put on the path
when it collects this one, hence the few lines these two modules share.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from entrasync_devtools.history_seed import seed_history  # noqa: F401 - re-exported
from playwright.async_api import Locator, Page
from support import polling
from support.console_stack import CLOUD, SEEDED_RUNS, unique  # noqa: F401 - re-exported

T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
WIDTHS = (360, 700, 1400)
"""A phone, half a laptop screen, a desktop: the widths every screen must fit."""

# Where a line of a link wraps, as the characters on either side (spaces, dots and hyphens are
# fine; anything else cut a word in two).
LINE_BREAKS_JS = """(element) => {
  const chars = [];
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = [...range.getClientRects()].find((r) => r.width > 0);
      chars.push([node.data[i], rect ? Math.round(rect.top) : null]);
    }
  }
  const breaks = [];
  let last = null;
  let gap = "";
  for (const [char, top] of chars) {
    if (top === null) { gap += char; continue; }
    if (last && top > last[1] + 2) breaks.push(last[0] + gap + "|" + char);
    last = [char, top];
    gap = "";
  }
  return breaks;
}"""


async def until(probe: Callable[[], Awaitable[T | None]], what: str, within: float = 60.0) -> T:
    """`eventually` for async tests: polls without blocking the event loop (and Playwright)."""
    return await polling.eventually(probe, what, within, interval=0.25)


class Screenshots:
    """Full-page screenshots of each screen, kept under the test session's tmp directory."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def take(self, page: Page, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        await page.screenshot(path=path, full_page=True)
        return path


async def page_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0 when nothing sticks out)."""
    return int(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


async def mid_word_breaks(link: Locator) -> list[str]:
    """Line breaks inside a word of the link's text ("ab|cd"), not after a space, dot or dash."""
    breaks: list[str] = await link.evaluate(LINE_BREAKS_JS)
    return [b for b in breaks if not (b[0] in ".-@_" or b.split("|")[0][-1:].isspace())]


async def covered_by_toasts(page: Page, target: Locator) -> list[str]:
    """Texts of the toasts whose box overlaps the target's box."""
    box = await target.bounding_box()
    assert box is not None, "the target is not visible"
    hits = []
    for toast in await page.locator("#toasts .toast").all():
        other = await toast.bounding_box()
        if other is None:
            continue
        apart = (
            other["x"] >= box["x"] + box["width"]
            or box["x"] >= other["x"] + other["width"]
            or other["y"] >= box["y"] + box["height"]
            or box["y"] >= other["y"] + other["height"]
        )
        if not apart:
            hits.append(await toast.inner_text())
    return hits
