"""Console security: argon2 password hashes, signed session cookies backed by a session row
on the server (so a logout or a password change ends them everywhere), and CSRF tokens."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.engine import session_scope
from db.models import AppMeta, ConsoleSession, User
from db.types import utcnow

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
        row = session.get(AppMeta, "secret_key")
        assert row is not None  # ours, or the one that won the race
        return row.value


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    """Signed, expiring session cookies carrying the user id and a per-login token; a cookie
    opens the console only while its token's row exists (checked on every request)."""

    def __init__(self, secret: str):
        self._serializer = URLSafeTimedSerializer(secret, salt="console-session")
        self._csrf_key = hashlib.sha256(("csrf:" + secret).encode()).digest()

    def issue(self, session: Session, user: User) -> str:
        """A new login's cookie; its row is added to `session` (the caller commits)."""
        user_id = user.id
        assert user_id is not None  # a stored user
        token, now = secrets.token_urlsafe(32), utcnow()
        session.exec(delete(ConsoleSession).where(col(ConsoleSession.expires_at) <= now))
        session.add(
            ConsoleSession(
                user_id=user_id,
                token_hash=_token_hash(token),
                created_at=now,
                expires_at=now + timedelta(seconds=SESSION_MAX_AGE),
            )
        )
        return self._serializer.dumps({"uid": user_id, "n": token})

    def read(self, cookie: str | None) -> dict | None:
        """The signed content of a cookie (not yet whether its session still exists)."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        valid = isinstance(data, dict) and isinstance(data.get("uid"), int)
        return data if valid and isinstance(data.get("n"), str) else None

    @staticmethod
    def user_of(session: Session, data: dict) -> User | None:
        """The user of a live session: one indexed lookup by the token's hash."""
        return session.exec(
            select(User)
            .join(ConsoleSession, col(ConsoleSession.user_id) == User.id)
            .where(
                ConsoleSession.token_hash == _token_hash(data["n"]),
                ConsoleSession.user_id == data["uid"],
                ConsoleSession.expires_at > utcnow(),
            )
        ).first()

    @staticmethod
    def end(session: Session, data: dict) -> None:
        """Logout: this cookie's session ends."""
        session.exec(
            delete(ConsoleSession).where(col(ConsoleSession.token_hash) == _token_hash(data["n"]))
        )

    @staticmethod
    def end_all(session: Session, user_id: int | None = None) -> int:
        """Every session of one user (or of everyone) ends; how many did."""
        query = delete(ConsoleSession)
        if user_id is not None:
            query = query.where(col(ConsoleSession.user_id) == user_id)
        return session.exec(query).rowcount

    def csrf_token(self, session_data: dict) -> str:
        return hmac.new(self._csrf_key, session_data["n"].encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, session_data: dict, token: str | None) -> bool:
        if not token:
            return False
        return hmac.compare_digest(self.csrf_token(session_data), token)
