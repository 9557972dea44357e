"""Corrections community managers made in the review queue, as training labels.

The foundation's `feedback` table (id, message_id, text, field, value, created_at, user_id)
records one corrected label per row. Only fields the heads learn are read; when one text was
corrected several times for the same field, the latest correction wins.
"""

from __future__ import annotations

from nlp.dataset import SENTIMENTS
from nlp.types import COMMENTER_TYPES, COMPLAINT_SUBTYPES

TRAINED_FIELDS = ("type", "subtype", "sentiment", "suggestion")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


def _coerce(field: str, value: object) -> object | None:
    """The label as training expects it, or None when the value is not a valid label."""
    if field == "suggestion":
        if isinstance(value, bool):
            return value
        answer = str(value).strip().lower()
        if answer in _TRUE:
            return True
        if answer in _FALSE:
            return False
        return None
    text = None if value is None else str(value).strip()
    if field == "type":
        return text if text in COMMENTER_TYPES else None
    if field == "subtype":
        if text in (None, "", "none", "null"):
            return None
        return text if text in COMPLAINT_SUBTYPES else None
    if field == "sentiment":
        return text if text in SENTIMENTS else None
    return None


def load_feedback(database_url: str) -> list[dict]:
    """Rows `{"text", "field", "value"}` for the labels the heads train on, oldest first,
    one per (text, field) with the latest correction kept."""
    from sqlalchemy import create_engine, text

    from db.engine import normalize_url

    placeholders = ", ".join(f":f{i}" for i in range(len(TRAINED_FIELDS)))
    query = text(
        "SELECT id, text, field, value FROM feedback "  # noqa: S608 - placeholders only
        f"WHERE field IN ({placeholders}) AND text IS NOT NULL "
        "ORDER BY created_at, id"
    )
    params = {f"f{i}": f for i, f in enumerate(TRAINED_FIELDS)}
    # the URL as the app reads it: postgresql:// driven by psycopg 3 whatever SQLAlchemy's default
    engine = create_engine(normalize_url(database_url), hide_parameters=True)
    try:
        with engine.connect() as conn:
            rows = conn.execute(query, params).mappings().all()
    finally:
        engine.dispose()
    latest: dict[tuple[str, str], dict] = {}
    for row in rows:
        txt = (row["text"] or "").strip()
        if not txt:
            continue
        field = row["field"]
        value = _coerce(field, row["value"])
        if value is None and not (field == "subtype" and _is_null(row["value"])):
            continue
        key = (txt, field)
        latest.pop(key, None)  # re-insert so the order follows the latest correction
        latest[key] = {"text": txt, "field": field, "value": value}
    return list(latest.values())


def _is_null(value: object) -> bool:
    return value is None or str(value).strip().lower() in ("", "none", "null")
