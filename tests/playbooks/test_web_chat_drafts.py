"""Sixty real-style comments through the web chat (visitors have no name, no ticket shown yet,
all three scripts): every draft and acknowledgement reads as a person would send it; and a
reply written from scratch in the console answers a message whose candidates were rejected."""

# ruff: noqa: F811 (the console tests' fixtures are imported and used by name)
from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.web.app import create_app
from db.models import AuditLog, Draft
from playbooks.debris import asks_to_go_private, find_debris
from tests.playbooks.test_console import (  # noqa: F401 (fixtures)
    FETCH,
    app,
    chat,
    classifier,
    csrf,
    login,
    pending,
    services,
)

COMMENTS = [
    # zh-Hant
    "advocate: 你們的檸檬塔超好吃，酸甜剛好！",
    "advocate: 信義店的店員好親切，下次還會再去",
    "advocate: 第三次回購了，果醬真的沒話說",
    "advocate: 包裝好用心，送禮很有面子 💕",
    "complaint: 訂單 #A10293 已經一週了還沒到",
    "complaint: 收到的蛋糕整個歪掉，奶油都黏在盒子上",
    "complaint/angry: 客服電話打了十次都沒人接，到底在幹嘛",
    "complaint/misled: 你們廣告說買一送一，結帳卻沒有折扣",
    "question: 請問週日有營業嗎？",
    "question: 可以用悠遊卡付款嗎",
    "question: 環保杯可以自備嗎",
    "question: 喝完肚子痛到現在，是不是東西壞掉了？",
    "question: 運費怎麼算？",
    "troll: 爛店，倒一倒算了",
    "troll: 小編是機器人吧哈哈哈",
    "other: 早安～",
    "other: 我要找真人客服",
    "advocate: 建議可以出小份量的禮盒，一個人吃剛好",
    "complaint: 昨天在台中店買的麵包有頭髮",
    "other: 哈囉",
    # zh-Hans
    "advocate: 你们的抹茶卷太好吃了，强烈推荐！",
    "advocate: 客服小姐姐回复好快，点赞",
    "advocate: 包装很精致，送朋友她超喜欢",
    "complaint: 外卖送到的时候汤都洒了",
    "complaint: 订单 20261130-88 显示已签收但我没收到",
    "complaint/angry: 等了一个小时还没出餐，太离谱了",
    "complaint/misled: 页面写包邮，结果还是收了运费",
    "question: 外卖可以送到信义区吗",
    "question: 你们有素食的选择吗？",
    "question: 礼盒可以开发票吗",
    "question: 周末几点关门？",
    "troll: 什么垃圾店",
    "troll: 又贵又难吃，笑死",
    "other: 在吗",
    "other: 我要人工客服",
    "advocate: 建议出一款无糖的，家里老人也能吃",
    "complaint: 收到的果酱盖子是开的",
    "question: 可以寄到香港吗？",
    "other: 晚上好",
    "advocate: 上周在门店买的蛋糕，全家都说好吃",
    # en
    "advocate: The lemon tart at your Xinyi branch is the best I've had!",
    "advocate: Quick reply and friendly staff, thank you!",
    "advocate: Ordered for my mum's birthday and she loved the box",
    "complaint: Order #A20931 still hasn't arrived after 8 days",
    "complaint: The cake was squashed when it arrived on Saturday",
    "complaint/angry: Nobody answers the phone, this is ridiculous",
    "complaint/misled: Your page said free shipping but I was charged",
    "question: Do you ship to Japan?",
    "question: Are you open on Sundays?",
    "question: Can I bring my own cup?",
    "question: Do you have vegan options?",
    "question: How long does delivery take to Kaohsiung?",
    "troll: worst bakery in town lol",
    "troll: is this account run by a bot",
    "other: hello?",
    "other: can I talk to a human please",
    "advocate: Suggest a smaller gift box, perfect for one person",
    "complaint: My stomach hurt after the sandwich yesterday",
    "question: Can I change the delivery address on my order?",
    "other: good evening",
]


# what a draft says does not depend on the database: SQLite only, sixty drafts are slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sixty_web_chat_comments_get_drafts_without_placeholder_debris(
    services, settings, classifier
):
    assert len(COMMENTS) == 60
    # one test client posts them all: the web chat's limits per visitor and address allow it
    settings.chat.max_posts_per_visitor = settings.chat.max_posts_per_address = len(COMMENTS)
    chat(create_app(settings, services), services, classifier, *COMMENTS)
    with Session(services.engine) as session:
        drafts = session.exec(select(Draft)).all()
    assert len({d.message_id for d in drafts}) == 60
    broken = [(d.playbook, d.text, find_debris(d.text)) for d in drafts if find_debris(d.text)]
    assert broken == []
    # every web chat is a private chat: nobody is asked to "message us privately" there
    private = [(d.playbook, d.text) for d in drafts if asks_to_go_private(d.text)]
    assert private == []


def test_a_reply_from_scratch_in_the_console_answers_a_rejected_message(app, services, classifier):
    chat(app, services, classifier, "complaint: 收到的蛋糕整個歪掉")
    mei = login(app, "mei")
    token = csrf(mei)
    for draft in pending(services):
        response = mei.post(f"/console/drafts/{draft.id}/reject",
                            data={"csrf": token, "reason": "太制式"}, headers=FETCH)  # fmt: skip
        assert response.status_code == 200
    left = pending(services)
    assert [d.playbook for d in left] == ["manual/write"]
    page = mei.get("/console").text
    assert f"/console/messages/{left[0].message_id}/reply" in page
    empty = mei.post(f"/console/messages/{left[0].message_id}/reply",
                     data={"csrf": token, "text": "  "}, headers=FETCH)  # fmt: skip
    assert empty.status_code == 422
    sent = mei.post(f"/console/messages/{left[0].message_id}/reply",
                    data={"csrf": token, "text": "<b>抱歉</b>，我們今天補寄一個新的給您。"},
                    headers=FETCH)  # fmt: skip
    assert sent.status_code == 200 and sent.json()["status"] == "edited"
    assert pending(services) == []
    with Session(services.engine) as session:
        assert session.exec(select(AuditLog).where(AuditLog.action == "reply")).one()
