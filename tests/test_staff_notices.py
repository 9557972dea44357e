"""A staff notice is written from its figures in each reader's words, codes included."""

from __future__ import annotations

from bot.i18n import use_locale
from bot.review.notices import notice_text
from db.models import StaffNotice


def escalation(section: str) -> StaffNotice:
    params = {"type": "complaint", "section": section, "role": "supervisor", "ticket": "CS-7"}
    return StaffNotice(kind="escalation", text="", params=params)


def test_an_escalation_names_the_section_by_its_subtype_and_stage_not_its_code():
    with use_locale("zh_Hant_TW"):
        text = notice_text(escalation("angry@relationship"), None)
        assert "angry" not in text and "relationship" not in text and "@" not in text
        assert "熟客" in text and "CS-7" in text
        assert "identification" not in notice_text(escalation("identification"), None)
    with use_locale("en"):
        assert notice_text(escalation("angry@relationship"), None).startswith(
            "Complaint · Angry · Regular needs a supervisor now"
        )
        assert notice_text(escalation("default"), None).startswith("Complaint needs")
        assert notice_text(escalation("refund-desk"), None).startswith("Complaint needs")
