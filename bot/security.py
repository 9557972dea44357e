"""Console security: argon2 password hashes, signed session cookies and CSRF tokens."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from db.engine import session_scope
from db.models import AppMeta

SESSION_COOKIE = "replyline_session"
SESSION_MAX_AGE = 12 * 3600
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def shared_secret(engine: Engine, configured: str | None) -> str:
    """The configured secret, or one generated once and kept in the database so every
    process behind the same database signs sessions alike."""
    if configured:
        return configured
    with Session(engine) as session:
        row = session.get(AppMeta, "secret_key")
        if row:
            return row.value
    # Another process may win the race to create it; then we use theirs.
    with contextlib.suppress(IntegrityError), session_scope(engine) as session:
        session.add(AppMeta(key="secret_key", value=secrets.token_urlsafe(48)))
    with Session(engine) as session:
        return session.get(AppMeta, "secret_key").value


class Sessions:
    """Signed, expiring session cookies carrying the user id and a per-login nonce."""

    def __init__(self, secret: str):
        self._serializer = URLSafeTimedSerializer(secret, salt="console-session")
        self._csrf_key = hashlib.sha256(("csrf:" + secret).encode()).digest()

    def issue(self, user_id: int) -> str:
        return self._serializer.dumps({"uid": user_id, "n": secrets.token_urlsafe(16)})

    def read(self, cookie: str | None) -> dict | None:
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        return data if isinstance(data, dict) and "uid" in data else None

    def csrf_token(self, session_data: dict) -> str:
        return hmac.new(self._csrf_key, session_data["n"].encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, session_data: dict, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session_data), token)
