"""The web chat in a real headless Chromium against a real `assistant serve`: MiniLM embeddings, embedded
Chroma, SmolLM2-135M as the model (its sentences are usually flagged), quotes-only answers (supported)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ARTICLE, BAD, _free_port, server_process

pytestmark = [pytest.mark.slow, pytest.mark.llm, pytest.mark.server]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SMOLLM = "packaged:smollm2-135m-instruct"
HOSTILE = "Wall Notes\n\nSomeone wrote <script>window.pwned = true</script> on the wall of the station.\n"
ANSWER_MS = 300_000  # SmolLM2 on two busy cores: generous, since this waits for an answer, not a deadline
ARTICLE_TITLE = "The Hegemon's 'K-Device': Tajiks in the crosshairs"


def serve_env(data_dir: Path) -> dict[str, str]:
    """`assistant serve` as a user runs it, with SmolLM2 as the local model and the word-overlap judge."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("ASSISTANT_")}
    return env | {
        "HF_HUB_OFFLINE": "1",
        "ASSISTANT_DATA_DIR": str(data_dir),
        "ASSISTANT_GENERATION__MODEL": SMOLLM,
        "ASSISTANT_GENERATION__MODEL_CACHE": str(data_dir / "models"),
        "ASSISTANT_VERIFICATION__JUDGE": "overlap",
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("browser")
    port = _free_port()
    command = [sys.executable, "-m", "assistant", "serve", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with server_process(command, f"{url}/static/chat.css", folder / "server.log", env=serve_env(folder / "data")):
        yield url


@pytest.fixture
def page(server: str):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.problems = []  # page errors and CSP refusals, checked at the end of the test
        tab.on("pageerror", lambda error: tab.problems.append(str(error)))
        tab.on("console", lambda message: tab.problems.append(message.text) if message.type == "error" else None)
        try:
            yield tab
        finally:
            browser.close()


def drop_file(page, name: str, text: str) -> None:
    """Drop a file on the upload area, as dragging it from the desktop does."""
    page.evaluate(
        """([name, text]) => {
            const data = new DataTransfer();
            data.items.add(new File([text], name, {type: "text/plain"}));
            const zone = document.getElementById("upload");
            zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: data, bubbles: true, cancelable: true}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
        }""",
        [name, text],
    )


def ask(page, question: str, generator: str):
    """Ask with the keyboard; returns the new turn (its answer still being written)."""
    from playwright.sync_api import expect

    asked = page.locator(".turn").count()
    page.select_option("#generator", generator)
    page.fill("#question", question)
    page.press("#question", "Enter")
    expect(page.locator(".turn")).to_have_count(asked + 1)
    return page.locator(".turn").nth(asked)


def test_upload_ask_check_cite_and_delete_in_a_real_browser(page, server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.goto(server)
    expect(page.locator(".empty")).to_be_visible()

    # Upload: two files through the file picker (one refused), one dropped.
    page.evaluate(
        """() => {
            window.told = [];  // what the announcer says, in order
            const announcer = document.getElementById("announce");
            new MutationObserver(() => window.told.push(announcer.textContent))
                .observe(announcer, {childList: true, characterData: true, subtree: true});
        }"""
    )
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n")
    page.set_input_files("#files", [str(ARTICLE), str(BAD / "notes.xyz"), str(photo)])
    drop_file(page, "wall.txt", HOSTILE)
    uploads = page.locator("#uploads")
    expect(uploads.locator(f'[data-name="{ARTICLE.name}"]')).to_have_attribute("data-status", "added", timeout=120_000)
    expect(uploads.locator('[data-name="wall.txt"]')).to_have_attribute("data-status", "added", timeout=120_000)
    rejected = uploads.locator('[data-name="notes.xyz"]')
    expect(rejected).to_have_attribute("data-status", "rejected")
    expect(rejected).to_contain_text("unsupported file type")
    expect(page.locator("#document-list")).to_contain_text(ARTICLE_TITLE)  # refreshed when the job ended
    # Each outcome is announced once; the list itself, redrawn every second while indexing, is not live.
    told = page.evaluate("window.told")
    for outcome in (f"{ARTICLE.name}: added", "wall.txt: added", "notes.xyz: rejected", "photo.png: rejected"):
        assert " ".join(told).count(outcome) == 1, told
    assert "notes.xyz: rejected; photo.png: rejected." in told  # refused together, said together
    assert uploads.get_attribute("aria-live") is None

    # Quotes only: every sentence a verbatim quotation, so supported.
    turn = ask(page, "How many Tajik migrants work in Russia?", "extractive")
    expect(turn).to_have_attribute("data-state", "done", timeout=ANSWER_MS)
    expect(turn.locator(".claim.supported").first).to_be_visible()
    expect(turn.locator(".claim.flagged")).to_have_count(0)
    expect(page.locator("#announce")).to_contain_text("Answer ready")

    # A citation opens its quotation highlighted in the document; Escape closes it and focus returns.
    cite = turn.locator(".claims .cite").first
    quote = turn.locator(".quotes q").first.inner_text()
    cite.click()
    dialog = page.locator("#citation")
    expect(dialog.locator("mark")).to_be_visible()
    assert " ".join(dialog.locator("mark").inner_text().split()) in " ".join(quote.split())
    expect(dialog.locator(".context-text")).to_contain_text("Tajik")  # the surrounding text too
    page.keyboard.press("Escape")
    expect(dialog).not_to_be_visible()
    expect(cite).to_be_focused()

    # A follow-up with SmolLM2: rewritten with the conversation, evidence first, then the answer streams.
    turn = ask(page, "And what happened at Crocus City Hall?", "local")
    streaming = page.locator('.turn[data-state="pending"]')
    expect(streaming.locator("details.evidence[open] .passage").first).to_be_visible(timeout=ANSWER_MS)
    # words arrive while it writes: the first with the draft, the rest appended to it one event each
    expect(streaming.locator(".draft")).to_have_text(re.compile(r"\S+\s+\S+\s+\S+"), timeout=ANSWER_MS)
    expect(turn).to_have_attribute("data-state", "done", timeout=ANSWER_MS)
    expect(turn.locator(".searched")).to_contain_text("Searched for:")
    flagged = turn.locator(".claim.flagged").first
    expect(flagged).to_be_visible()
    expect(flagged.locator(".flag")).to_contain_text(
        "no source" if "uncited" in flagged.get_attribute("class") else "not supported"
    )
    reason = page.locator(f"#{flagged.get_attribute('aria-describedby')}")
    expect(reason).to_be_hidden()
    flagged.focus()  # keyboard focus shows why
    expect(reason).to_be_visible()
    expect(reason).not_to_be_empty()
    page.locator("#question").focus()
    expect(reason).to_be_hidden()
    flagged.hover()  # and so does hovering
    expect(reason).to_be_visible()

    # A reload shows the whole conversation again, verdicts and all.
    page.reload()
    expect(page.locator(".turn")).to_have_count(2)
    expect(page.locator(".turn").first.locator(".claim.supported").first).to_be_visible()
    expect(page.locator(".turn").last.locator(".claim.flagged").first).to_be_visible()

    # A document holding <script> shows it as text, and it never runs.
    page.locator("#document-list .doc-title", has_text="Wall Notes").click()
    expect(dialog.locator(".context-text")).to_contain_text("<script>window.pwned = true</script>")
    assert page.evaluate("window.pwned") is None
    page.locator("#citation [data-close]").click()

    # Delete, after confirming.
    page.once("dialog", lambda confirm: confirm.accept())
    page.locator(".document", has_text=ARTICLE_TITLE).get_by_role("button", name="Delete").click()
    expect(page.locator("#document-list")).to_contain_text("Deleted")
    expect(page.locator("#document-list .document", has_text=ARTICLE_TITLE)).to_have_count(0)
    expect(page.locator("#document-list .document", has_text="Wall Notes")).to_have_count(1)

    assert page.problems == []


def test_the_api_documentation_renders_with_no_request_off_the_machine(page, server: str) -> None:
    from playwright.sync_api import expect

    elsewhere: list[str] = []
    page.on("request", lambda request: elsewhere.append(request.url) if not request.url.startswith(server) else None)
    page.goto(f"{server}/docs")  # Swagger UI 5: it reads the OpenAPI 3.1 schema
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/ask").first).to_be_visible(timeout=60_000)
    assert (elsewhere, page.problems) == ([], [])
