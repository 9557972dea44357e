"""Refusals of the domain: a kind each, an HTTP status from one table, readable in both languages."""

from __future__ import annotations

import pytest

from bot import i18n
from bot.calendar.repeat import RepeatError
from bot.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from bot.web.errors import http_status
from db.enums import (
    DraftStatus,
    IncidentStatus,
    PostStatus,
    ProposalStatus,
    Role,
    TicketStatus,
)


@pytest.mark.parametrize(
    ("kind", "status"), [(NotFound, 404), (Conflict, 409), (Forbidden, 403), (Invalid, 422)]
)
def test_each_kind_answers_its_http_status(kind, status):
    assert http_status(kind("draft {draft} does not exist", draft=1)) == status


def test_a_refusal_of_a_special_kind_answers_as_its_kind():
    assert http_status(RepeatError("the day of a repeat must be a number")) == 422


def test_a_refusal_is_english_in_logs_and_translated_when_shown():
    refused = Forbidden("draft {draft} needs a {role} to decide", draft=7, role=Role.SUPERVISOR)
    assert str(refused) == "draft 7 needs a supervisor to decide"
    with i18n.use_locale("en"):
        assert refused.text() == "draft 7 needs a supervisor to decide"
    with i18n.use_locale("zh_Hant_TW"):
        assert refused.text() == "草稿 7 需要主管才能決定"


def test_named_fields_keep_their_values_in_either_language():
    refused = Invalid("no user named {name!r}", name="<b>mei</b>")
    with i18n.use_locale("zh_Hant_TW"):
        assert "'<b>mei</b>'" in refused.text()


@pytest.mark.parametrize(
    "code",
    [
        member
        for enum in (DraftStatus, IncidentStatus, PostStatus, ProposalStatus, Role, TicketStatus)
        for member in enum
    ],
)
def test_every_status_and_role_a_refusal_names_has_chinese_words(code):
    with i18n.use_locale("zh_Hant_TW"):
        words = Conflict("{code}", code=code).text()
    assert words != code.value


def test_the_base_is_never_raised_bare():
    assert http_status(DomainError("a reply cannot be empty")) == 500


def test_a_field_may_be_called_message():
    refused = NotFound("message {message} does not exist", message=5)
    assert str(refused) == "message 5 does not exist"
