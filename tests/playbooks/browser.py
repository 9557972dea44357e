"""A small driver for headless Chromium over the DevTools protocol (no extra dependency: the
`websockets` client that uvicorn already brings). Enough to open pages, type, press keys, read
the page back, and see what it logged or tried to alert (events are kept in `events`)."""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
    "--window-size=1280,900",
)
KEYS = {  # key → (code, Windows virtual key code)
    "Enter": ("Enter", 13),
    "Escape": ("Escape", 27),
    "Tab": ("Tab", 9),
}


def chromium_path() -> str | None:
    """Chromium, installed from Debian's packages by scripts/install-chromium.sh if missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    subprocess.run(["bash", str(ROOT / "scripts/install-chromium.sh")], check=False, timeout=900)
    return shutil.which("chromium")


def require_chromium() -> str:
    """Chromium's path, or skip the test saying why there is none."""
    path = chromium_path()
    if path is None:
        pytest.skip("headless Chromium is not installed and scripts/install-chromium.sh could "
                    "not install it (needs root and Debian's package archive)")  # fmt: skip
    return path


class Browser:
    def __init__(self, binary: str):
        self.profile = tempfile.mkdtemp(prefix="replyline-chromium-")
        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line and self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.process.returncode}")
            match = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            port = int(match.group(1)) if match else None
        if port is None:
            raise RuntimeError("chromium did not open its DevTools port")
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        self.stack = contextlib.ExitStack()
        self.socket = self.stack.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=2**24, open_timeout=10)
        )
        self.ids = itertools.count(1)
        self.events: list[dict] = []  # every DevTools event seen, in order
        self.dialogs: list[str] = []  # alert/confirm/prompt texts (each dismissed at once)
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method: str, **params) -> dict:
        ident = next(self.ids)
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self._event(message)
        raise TimeoutError(method)

    def _event(self, message: dict) -> None:
        self.events.append(message)
        if message["method"] == "Page.javascriptDialogOpening":
            # an open dialog blocks the page (and any evaluate in flight): note it, dismiss it
            self.dialogs.append(message["params"].get("message", ""))
            request = {"id": next(self.ids), "method": "Page.handleJavaScriptDialog",
                       "params": {"accept": False}}  # fmt: skip
            self.socket.send(json.dumps(request))

    def console_messages(self) -> list[str]:
        """What the page logged so far: console.* calls, and the browser's own log entries
        when Log is enabled."""
        self.js("0")  # read the events that arrived before now
        out = []
        for event in self.events:
            params = event["params"]
            if event["method"] == "Runtime.consoleAPICalled":
                out.append(" ".join(str(a.get("value", a.get("description", "")))
                                    for a in params["args"]))  # fmt: skip
            elif event["method"] == "Log.entryAdded":
                out.append(params["entry"].get("text", ""))
        return out

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)  # fmt: skip
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("text", "script error"))
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete' && location.href !== 'about:blank'")

    def wait(self, expression: str, seconds: float = 15) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if self.js(expression):
                    return
            except RuntimeError:
                pass  # the page is navigating
            time.sleep(0.1)
        state = self.js(
            "(document.getElementById('status') || {}).textContent + ' | ' + "
            "(document.getElementById('queue') || document.body).innerText.slice(0, 400)"
        )
        raise AssertionError(f"timed out waiting for: {expression}\npage: {state}")

    def type(self, text: str) -> None:
        self.call("Input.insertText", text=text)

    def press(self, key: str, ctrl: bool = False, commands: list[str] | None = None) -> None:
        code, vk = KEYS[key] if key in KEYS else (f"Key{key.upper()}", ord(key.upper()))
        text = "" if ctrl or key in KEYS and key != "Enter" else ("\r" if key == "Enter" else key)
        params = {"key": key, "code": code, "windowsVirtualKeyCode": vk,
                  "modifiers": 2 if ctrl else 0}  # fmt: skip
        down = {**params, "type": "keyDown" if text else "rawKeyDown", "text": text}
        if commands:
            down["commands"] = commands
        self.call("Input.dispatchKeyEvent", **down)
        self.call("Input.dispatchKeyEvent", **params, type="keyUp")

    def screenshot(self, path: Path) -> None:
        import base64

        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.stack.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            shutil.rmtree(self.profile, ignore_errors=True)
