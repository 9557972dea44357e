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

    visitor = deployment.chat(deployment.web[-1])
    visitor.say("Thank you so much for the birthday cake, everyone loved it! (reload)")
    deployment.top_draft("(reload)")
    message = deployment.inbound("(reload)")
    texts = [d.text for d in deployment.drafts_of(message.id)]
    assert any(marker in t for t in texts), f"drafts kept the old text: {texts}"
