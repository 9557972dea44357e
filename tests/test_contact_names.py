"""Who wrote, as staff see it: the contact's name, else a short nickname that stays the same for
that person; never a platform id or a web-chat cookie token."""

import pytest

from bot.i18n import use_locale
from bot.review.contact_names import contact_name, conversation_name
from bot.review.staff_review import card_text
from db.models import Contact, Conversation, Draft, Message


@pytest.fixture(autouse=True)
def english():
    with use_locale("en"):
        yield


def test_a_chinese_reader_sees_visitor_nicknames_in_chinese():
    visitor = Contact(id=123, channel="web", platform_user_id="ZnAxkY-Nqx3oK-4r2vWq9")
    with use_locale("zh_Hant_TW"):
        assert contact_name(visitor) == "訪客 #123"
        assert contact_name(Contact(id=4, channel="line", platform_user_id="U9")) == "LINE 用戶 #4"


def test_a_named_contact_is_shown_by_name_with_its_spaces_tidied():
    assert (
        contact_name(
            Contact(id=7, channel="line", platform_user_id="U1", display_name=" 王  小美 ")
        )
        == "王 小美"
    )


def test_a_nameless_contact_gets_a_stable_nickname_from_its_number_never_its_id():
    token = "ZnAxkY-Nqx3oK-4r2vWq9"
    visitor = Contact(id=123, channel="web", platform_user_id=token)
    assert contact_name(visitor) == "Visitor #123" == contact_name(visitor)
    assert contact_name(Contact(id=4, channel="line", platform_user_id="U9f")) == "LINE user #4"
    assert (
        contact_name(Contact(id=5, channel="telegram", platform_user_id="42")) == "Telegram user #5"
    )
    assert contact_name(Contact(id=6, channel="sms", platform_user_id="+886")) == "Customer #6"
    erased = Contact(id=8, channel="web", platform_user_id=token, display_name="Mei", erased=True)
    assert contact_name(erased) == "Erased contact #8"
    assert contact_name(None) == "someone"


def test_a_group_chat_is_named_by_its_title_and_a_direct_chat_by_its_person():
    mei = Contact(id=3, channel="telegram", platform_user_id="42", display_name="Mei")
    group = Conversation(id=9, channel="telegram", chat_id="-100123", kind="group", title="粉絲團")
    assert conversation_name(group, mei) == "group “粉絲團”"
    untitled = Conversation(id=9, channel="telegram", chat_id="-100123", kind="group")
    assert conversation_name(untitled, mei) == "group chat #9"
    direct = Conversation(id=2, channel="telegram", chat_id="42", kind="direct")
    assert conversation_name(direct, mei) == "Mei"


def test_a_telegram_review_card_names_a_web_visitor_by_nickname():
    token = "ZnAxkY-Nqx3oK-4r2vWq9"
    visitor = Contact(id=12, channel="web", platform_user_id=token)
    chat = Conversation(id=3, channel="web", chat_id=token, kind="direct", contact_id=12)
    message = Message(
        id=1, channel="web", conversation_id=3, text="請問營業時間？", type="question"
    )
    with use_locale("en"):
        card = card_text(message, chat, visitor, Draft(id=2, message_id=1, text="每天 9:00 開門"))
    assert "Web chat · Visitor #12 · direct chat" in card and token not in card
