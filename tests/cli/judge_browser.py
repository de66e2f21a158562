"""Drive `ragtune judge`'s page in real headless Chromium (Playwright, pointed at Debian's
chromium) and print what the page showed, as JSON, for tests/cli/judge.rs to check.

usage: judge_browser.py URL first|second CHROMIUM

first:  on question 1, mark chunk 1 relevant with the mouse, move to chunk 2 with `j` and
        mark it not relevant with `n`, select text of chunk 3 with a mouse drag and keep it
        with `s`; go to question 2 with `]` and press `r` there; reload the page and read
        back every state shown.
second: (after the server was killed and started again) read the states back, then mark
        chunk 1 of question 3 not relevant with the mouse.
"""

import json
import sys

from playwright.sync_api import sync_playwright


def states(page):
    """Question id and each chunk's state, as the page shows them."""
    page.wait_for_selector(".chunk")
    cards = page.query_selector_all(".chunk")
    return {
        "question": page.get_attribute("#question", "data-id"),
        "states": [c.get_attribute("data-state") for c in cards],
        "marks": [m.inner_text() for m in page.query_selector_all(".chunk mark")],
        "progress": page.inner_text("#progress"),
    }


def saved(page):
    page.wait_for_function("document.getElementById('status').textContent !== ''")
    text = page.inner_text("#status")
    if text != "saved":
        raise SystemExit(f"the page did not save: {text!r}")
    page.evaluate("document.getElementById('status').textContent = ''")


def ready(page, url):
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    page.evaluate("document.getElementById('status').textContent = ''")


def drag_select(page, selector):
    """Select part of the first line of `selector` with the mouse; the selected text."""
    box = page.locator(selector).bounding_box()
    y = box["y"] + 8
    page.mouse.move(box["x"] + 1, y)
    page.mouse.down()
    page.mouse.move(box["x"] + min(160, box["width"] - 2), y, steps=8)
    page.mouse.up()
    return page.evaluate("window.getSelection().toString()")


def first(page, url):
    out = {}
    ready(page, url)
    page.click(".chunk[data-i='0'] button[data-v='relevant']")
    saved(page)
    page.keyboard.press("j")
    page.keyboard.press("n")
    saved(page)
    out["selected"] = drag_select(page, ".chunk[data-i='2'] .text")
    page.keyboard.press("s")
    saved(page)
    out["q1_before_reload"] = states(page)
    page.keyboard.press("]")
    page.wait_for_function("location.hash === '#q=1'")
    page.keyboard.press("r")
    saved(page)
    out["q2_before_reload"] = states(page)
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    page.evaluate("document.getElementById('status').textContent = ''")
    out["q2_after_reload"] = states(page)
    page.keyboard.press("[")
    page.wait_for_function("location.hash === '#q=0'")
    page.wait_for_function(
        "document.querySelector(\".chunk[data-i='0']\").dataset.state !== 'unjudged'"
    )
    out["q1_after_reload"] = states(page)
    return out


def second(page, url):
    out = {}
    ready(page, url + "#q=0")
    out["q1_after_restart"] = states(page)
    page.keyboard.press("]")
    page.wait_for_function("location.hash === '#q=1'")
    out["q2_after_restart"] = states(page)
    page.keyboard.press("]")
    page.wait_for_function("location.hash === '#q=2'")
    page.click(".chunk[data-i='0'] button[data-v='not_relevant']")
    saved(page)
    out["q3"] = states(page)
    return out


def main():
    url, phase, chromium = sys.argv[1], sys.argv[2], sys.argv[3]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        out = first(page, url) if phase == "first" else second(page, url)
        out["page_errors"] = errors
        browser.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
