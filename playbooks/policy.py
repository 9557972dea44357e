"""A playbook's policy as a typed value: what a reply may do on its own and who must see it.

Playbooks set it in layers (the playbook, then its section, then its `severe` block); each
layer names only what it changes and `Policy.merged` lays them over the defaults. A draft keeps
the policy it was written under as JSON (`as_dict`), so a later playbook edit does not change
what the reviewer was told."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from db.enums import Role

ACTIONS = ("hide", "mute", "private_message", "escalate")


@dataclass(frozen=True)
class Policy:
    auto_send: bool = False  # may go out without a person, where settings allow it
    human_required: bool = True
    required_role: Role = Role.AGENT  # the weakest role that may approve it
    escalates: bool = False  # staff are told at once
    first_response_minutes: int = 60  # in business hours
    public_reply: bool = True  # may be answered in a public thread
    opens_ticket: bool = False
    records_proposal: bool = False
    actions: tuple[str, ...] = ()  # moderation steps offered to the reviewer
    repeat_flag_after: int = 0  # trolls: flag the sender at this many in the window (0: never)
    repeat_window_days: int = 30

    def __post_init__(self) -> None:
        object.__setattr__(self, "required_role", Role(self.required_role))
        object.__setattr__(self, "actions", tuple(self.actions))
        unknown = [a for a in self.actions if a not in ACTIONS]
        if unknown:
            raise ValueError(f"unknown policy action(s): {', '.join(unknown)}")

    @classmethod
    def merged(cls, *layers: Mapping[str, Any]) -> Policy:
        """The defaults with each layer's keys laid over them in order. An unknown key is a
        TypeError, an unknown role or action a ValueError."""
        values: dict[str, Any] = {}
        for layer in layers:
            values.update(layer)
        return cls(**values)

    def but(self, **changes: Any) -> Policy:
        """This policy with some values changed (and checked again)."""
        return replace(self, **changes)

    @property
    def may_send_alone(self) -> bool:
        """Whether the policy lets a reply go out without a person (confidence aside)."""
        return self.auto_send and not self.human_required and not self.escalates

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values, every key: what a draft keeps."""
        out = asdict(self)
        out["required_role"] = self.required_role.value
        out["actions"] = list(self.actions)
        return out


POLICY_KEYS = tuple(f.name for f in fields(Policy))
DEFAULT_POLICY = Policy()
