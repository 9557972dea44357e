"""The audit log shows the notes the code writes in the reader's language, and what people
wrote exactly as they wrote it."""

from bot import i18n
from bot.web.audit_notes import audit_note


def test_machine_notes_read_in_chinese_and_stay_as_written_in_english():
    with i18n.use_locale("zh_Hant_TW"):
        assert audit_note("user_change", "before", "mei: agent, active") == "mei：客服人員，啟用中"
        assert audit_note("user_change", "after", "admin, inactive, new password") == (
            "管理員，已停用，已設新密碼"
        )
        assert audit_note("sessions_end", "after", "everyone: 3") == "所有人：結束了 3 個登入"
        assert audit_note("release_handoff", "reason", "conversation 12") == "對話 12"
        assert audit_note("post_cancel", "reason", "post 4: 下雨改期") == "貼文 4：下雨改期"
    with i18n.use_locale("en"):
        assert audit_note("user_add", "after", "bo (supervisor)") == "bo (Supervisor)"
        assert audit_note("release_handoff", "reason", "conversation 12") == "conversation 12"


def test_what_people_wrote_is_never_rewritten():
    with i18n.use_locale("zh_Hant_TW"):
        # a reply that happens to look like a note, under an action whose notes differ
        assert audit_note("approve", "after", "conversation 12") == "conversation 12"
        assert audit_note("reject", "reason", "post 3") == "post 3"
        assert audit_note("user_change", "before", None) == ""
