"""Small helpers shared by the browser tests."""

from __future__ import annotations

import time
from typing import Any

from server.content import PAGE_PATHS

CACHED_COUNT = """async (lang) => {
  if (!navigator.serviceWorker || !navigator.serviceWorker.controller) return -1;
  let count = 0;
  for (const name of await caches.keys()) {
    for (const request of await (await caches.open(name)).keys()) {
      if (new URL(request.url).pathname.startsWith('/' + lang + '/')) count += 1;
    }
  }
  return count;
}"""

LANGUAGE_PAGES = len(PAGE_PATHS) + 1  # every page plus the offline page


def wait_until_offline_ready(page: Any, lang: str, timeout: float = 20) -> None:
    """Wait until the service worker controls the page and holds the language."""
    deadline = time.monotonic() + timeout
    count = -1
    while time.monotonic() < deadline:
        count = page.evaluate(CACHED_COUNT, lang)
        if count >= LANGUAGE_PAGES:
            return
        time.sleep(0.1)
    raise AssertionError(f"{lang}: {count} of {LANGUAGE_PAGES} pages cached")


def answer(page: Any, yes: int, total: int = 7) -> None:
    """Answer the self-check: the first `yes` questions yes, the rest no."""
    questions = page.locator("fieldset.question")
    assert questions.count() == total
    for index in range(total):
        value = "yes" if index < yes else "no"
        questions.nth(index).locator(f'input[value="{value}"]').check()
