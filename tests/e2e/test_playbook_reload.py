"""An admin edits a template in the brand's playbook folder and presses "Check and reload" in
the console: the next draft uses the new text, although drafts are made in another process
(serve's worker child; under the compose layout any of three workers)."""

from __future__ import annotations

import secrets


def test_a_playbook_reloaded_in_the_console_is_used_by_the_next_draft(deployment):
    marker = f"[edited {secrets.token_hex(3)}]"
    advocate = deployment.workdir / "playbooks" / "advocate.yaml"
    text = advocate.read_text()
    assert "{name}]]!" in text  # "Thank you[[, {name}]]!": the name is optional
    advocate.write_text(text.replace("{name}]]!", "{name}]]! " + marker))  # every English thanks

    page = deployment.console("ana", deployment.web[0]).post("/console/playbooks/reload")
    assert marker in page.text  # the console shows the new text

    for n in range(4):  # through every web process, so whichever worker drafts them
        visitor = deployment.chat(deployment.web[n % len(deployment.web)])
        visitor.say(f"Thank you so much for the birthday cake, everyone loved it! (reload {n})")
    for n in range(4):
        deployment.top_draft(f"(reload {n})")
        message = deployment.inbound(f"(reload {n})")
        texts = [d.text for d in deployment.drafts_of(message.id)]
        assert any(marker in t for t in texts), f"draft {n} kept the old text: {texts}"
