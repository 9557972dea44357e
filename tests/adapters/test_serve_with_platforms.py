"""`replyline serve` as users run it: it says which channels are on and off, takes the
platforms' webhooks, and none of the platform secrets ever reaches its output."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes import line_webhooks as lw
from tests.fakes import telegram_updates as tu
from tests.fakes.telegram_updates import WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve(tmp_path):
    processes = []

    def start(**env) -> tuple[str, subprocess.Popen]:
        port = free_port()
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "REPLYLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'replyline.db'}",
            "REPLYLINE_WORKER_ENABLED": "false",
            "REPLYLINE_SECRET_KEY": "test-secret-key",
        } | env
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return url, process
            except httpx.TransportError:
                time.sleep(0.1)
            assert process.poll() is None, process.stdout.read()
        raise AssertionError("replyline serve did not start")

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def output_of(process) -> str:
    process.terminate()
    out, _ = process.communicate(timeout=20)
    return out


def test_serve_with_both_platforms_takes_their_webhooks_and_never_prints_a_secret(
    serve, telegram_api, line_api
):
    url, process = serve(
        REPLYLINE_TELEGRAM_BOT_TOKEN=telegram_api.token,
        REPLYLINE_TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        REPLYLINE_TELEGRAM_API_BASE=telegram_api.api_base,
        REPLYLINE_LINE_CHANNEL_SECRET=lw.CHANNEL_SECRET,
        REPLYLINE_LINE_CHANNEL_ACCESS_TOKEN=line_api.access_token,
        REPLYLINE_LINE_API_BASE=line_api.api_base,
    )
    assert httpx.get(f"{url}/healthz").json()["channels"] == ["line", "telegram", "web"]

    verification = b'{"destination":"U0","events":[]}'
    assert (
        httpx.post(
            f"{url}/webhooks/line", content=verification, headers=lw.headers(verification)
        ).status_code
        == 200
    )
    forged = lw.body(lw.text_event("hi", lw.user_id(1)))
    assert (
        httpx.post(
            f"{url}/webhooks/line", content=forged, headers={"x-line-signature": "AAAA"}
        ).status_code
        == 400
    )

    update = json.dumps(tu.text_update(42, 42, "question: hi")).encode()
    wrong = {"x-telegram-bot-api-secret-token": "nope"}
    right = {"x-telegram-bot-api-secret-token": WEBHOOK_SECRET}
    assert httpx.post(f"{url}/webhooks/telegram", content=update, headers=wrong).status_code == 401
    response = httpx.post(f"{url}/webhooks/telegram", content=update, headers=right)
    assert response.status_code == 200 and response.json()["stored"] == 1

    out = output_of(process)
    assert "channels on: line, telegram, web" in out
    assert "telegram: connected as @replyline_test_bot" in out
    for secret in (
        telegram_api.token,
        telegram_api.token.split(":")[1],
        WEBHOOK_SECRET,
        lw.CHANNEL_SECRET,
        line_api.access_token,
    ):
        assert secret not in out
    assert telegram_api.methods()[0] == "getMe"


def test_serve_without_platform_credentials_says_which_channels_are_off(serve):
    url, process = serve()
    assert httpx.get(f"{url}/healthz").json()["channels"] == ["web"]
    assert httpx.post(f"{url}/webhooks/telegram", content=b"{}").status_code == 404
    out = output_of(process)
    assert "channel telegram off: no REPLYLINE_TELEGRAM_BOT_TOKEN" in out
    assert "channel line off" in out
