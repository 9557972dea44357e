"""Messages about someone's health or safety (stomach ache, allergy, injury) go to a person:
no FAQ entry is sure to fit them, and a wrong automatic answer there does real harm."""

from __future__ import annotations

import re

# data, not code: add words here (both scripts and English), matched case-insensitively
WORDS = (
    "肚子痛", "腹痛", "拉肚子", "腹瀉", "腹泻", "嘔吐", "呕吐", "想吐", "不舒服", "食物中毒",
    "過敏", "过敏", "起疹子", "受傷", "受伤", "割傷", "割伤", "燙傷", "烫伤", "送醫", "送医",
    "就醫", "就医", "急診", "急诊", "異物", "异物", "吃到玻璃", "發燒", "发烧",
    "stomach", "food poisoning", "diarrh", "vomit", "threw up", "allerg", "rash", "injur",
    "hurt myself", "burned", "hospital", "sick after", "got sick", "choke", "choking",
)  # fmt: skip
PATTERN = re.compile("|".join(re.escape(w) for w in WORDS), re.I)


def mentions_safety(text: str) -> bool:
    """Whether the message speaks of harm to someone's health or body."""
    return bool(PATTERN.search(text or ""))
