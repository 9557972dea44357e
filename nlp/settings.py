"""The classifier's settings (REPLYLINE_ENCODER, REPLYLINE_MODEL_DIR, ...): the only place nlp/
reads the environment. The bot's Settings nests this group as `settings.nlp` (nlp never imports
bot), and nlp's own commands read it with `NlpSettings.from_env()`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _path_list(value: object) -> object:
    """A path list from the environment is separated like PATH (os.pathsep)."""
    if isinstance(value, str):
        return [part for part in value.split(os.pathsep) if part.strip()]
    return value


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


PathList = Annotated[list[Path], BeforeValidator(_path_list)]


class NlpSettings(BaseModel):
    """Classifier: the encoder that reads messages, where it and its heads are kept, how it runs."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    title: ClassVar[str] = "Classifier (nlp)"
    env_prefix: ClassVar[str] = ""  # REPLYLINE_<FIELD>: these names predate the groups

    encoder: str | None = Field(
        default=None,
        description="another transformers model directory or hub name; unset: the bundled "
        "multilingual-e5-small",
    )
    model_dir: Path | None = Field(
        default=None,
        description="where the bundled encoder is converted once "
        "(unset: ~/.cache/replyline/models)",
    )
    quantize: Annotated[Literal["auto", "none", "int8", "bf16"], BeforeValidator(_lower)] = Field(
        default="auto",
        description="number format the encoder computes in: auto (float32 on ONNX Runtime, bf16 "
        "batches on torch where the CPU has it), none (float32), int8 (twice as fast on ONNX "
        "Runtime, a little less exact), bf16",
    )
    runtime: Annotated[Literal["auto", "onnx", "torch"], BeforeValidator(_lower)] = Field(
        default="auto",
        description="what runs the encoder: auto (ONNX Runtime for the bundled encoder, else "
        "torch), torch, or onnx (the bundled encoder on ONNX Runtime)",
    )
    max_tokens: int = Field(default=128, ge=8, le=512, description="longest input, in tokens")
    torch_threads: int | None = Field(
        default=None, ge=1, description="threads the model computes on (unset: all cores)"
    )
    heads_dir: Path | None = Field(
        default=None,
        description="where trained classifier heads are written and looked up first "
        "(unset: the package's nlp/heads)",
    )
    data_dirs: PathList = Field(
        default_factory=list,
        description=f"more training pools (real_*.jsonl), separated by {os.pathsep!r}",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="where training caches embeddings (unset: ~/.cache/replyline/embeddings)",
    )

    def updated(self, **changes: object) -> NlpSettings:
        """A validated copy with these values changed (None: keep this one's)."""
        given = {name: value for name, value in changes.items() if value is not None}
        return type(self).model_validate(self.model_dump() | given)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NlpSettings:
        """These settings from REPLYLINE_* environment variables (for nlp's own commands)."""
        env = os.environ if environ is None else environ
        values = {}
        for name in cls.model_fields:
            raw = env.get(f"REPLYLINE_{cls.env_prefix}{name}".upper())
            if raw is not None:
                values[name] = raw
        return cls.model_validate(values)


def bot_database_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The bot's database (REPLYLINE_DATABASE_URL), where `train --with-feedback` reads the
    reviewers' corrections; the bot itself reads it as `settings.database.url`."""
    return (os.environ if environ is None else environ).get("REPLYLINE_DATABASE_URL")
