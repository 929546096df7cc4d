"""Take the README's screenshot of the web chat: a real `assistant serve` over the sample article, one
question answered by the configured model, a citation open.

    .venv/bin/python scripts/chat_screenshot.py                      # web/screenshot.png, the default model
    .venv/bin/python scripts/chat_screenshot.py --narrow /tmp/phone.png   # also the 375 px layout

Uses Debian's /usr/bin/chromium through Playwright (no browser download). Takes a minute or two on a CPU.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "corpus" / "hegemons-k-device-tajiks-in-the-crosshairs.txt"
QUESTION = "How many Tajik migrants work in Russia, and why are they in the crosshairs?"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "assistant", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(240):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/static/chat.css", timeout=2)
            return process
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise SystemExit("assistant serve did not start")


def shoot(url: str, out: Path, narrow: Path | None, question: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
        page.goto(url)
        page.set_input_files("#files", [str(ARTICLE)])
        expect(page.locator(".upload").first).to_have_attribute("data-status", "added", timeout=300_000)
        page.fill("#question", question)
        page.press("#question", "Enter")
        turn = page.locator(".turn").first
        expect(turn).to_have_attribute("data-state", "done", timeout=900_000)
        page.locator("#uploads").evaluate("element => element.replaceChildren()")  # the list, not the upload log
        cites = turn.locator(".claim.supported .cite")
        (cites if cites.count() else turn.locator(".claims .cite")).first.click()
        expect(page.locator("#citation mark")).to_be_visible()
        flagged = turn.locator(".claim.flagged")
        if flagged.count():
            flagged.first.hover()  # its reason, beside the open citation
        page.screenshot(path=str(out))
        if narrow is not None:
            page.keyboard.press("Escape")
            page.set_viewport_size({"width": 375, "height": 812})
            turn.locator(".claims .cite").first.click()
            expect(page.locator("#citation mark")).to_be_visible()
            page.screenshot(path=str(narrow))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "web" / "screenshot.png")
    parser.add_argument("--narrow", type=Path, help="also save the 375 px wide layout here")
    parser.add_argument("--question", default=QUESTION)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        server = start_server(Path(folder) / "data", port)
        try:
            shoot(f"http://127.0.0.1:{port}", args.out, args.narrow, args.question)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
