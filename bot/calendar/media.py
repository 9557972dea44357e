"""Images attached to scheduled posts: checked, stored under media_dir with a random name, and
served publicly at /media/<name> because the platforms fetch them from there."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from bot.errors import Invalid
from bot.i18n.catalog import N_

MAX_BYTES = 10 * 1024 * 1024  # LINE's limit for an image message
# A whole multipart form carrying one image: the image, the post's text and the framing.
MAX_UPLOAD_BYTES = MAX_BYTES + 1024 * 1024
KINDS = {b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png"}  # what both platforms accept
NAME = re.compile(r"^[a-f0-9]{32}\.(jpg|png)$")


class ImageRejected(Invalid, ValueError):
    """Not an image a post can carry; the message says why."""


def save_image(media_dir: Path, data: bytes) -> str:
    """Store a JPEG or PNG and return its file name."""
    if not data:
        raise ImageRejected(N_("the image file is empty"))
    if len(data) > MAX_BYTES:
        raise ImageRejected(N_("images can be at most {size} MB"), size=MAX_BYTES // (1024 * 1024))
    suffix = next((s for magic, s in KINDS.items() if data.startswith(magic)), None)
    if suffix is None:
        raise ImageRejected(N_("only JPEG and PNG images can be posted"))
    media_dir.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + suffix
    (media_dir / name).write_bytes(data)
    return name


def image_path(media_dir: Path, name: str) -> Path | None:
    """The stored file for a name we issued, or None (never a path outside media_dir)."""
    if not NAME.match(name):
        return None
    path = media_dir / name
    return path if path.is_file() else None
