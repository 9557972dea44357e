"""A playbook's policy is a typed value: layers override the defaults in order, and a draft
keeps it as JSON."""

import json

import pytest

from db.enums import Role
from playbooks.policy import POLICY_KEYS, Policy


def test_later_layers_override_earlier_ones_and_the_defaults_fill_the_rest():
    policy = Policy.merged(
        {"auto_send": True, "required_role": "agent", "repeat_flag_after": 3},
        {"human_required": False},
        {"required_role": "supervisor", "escalates": True},
    )
    assert policy.auto_send and not policy.human_required and policy.escalates
    assert policy.required_role is Role.SUPERVISOR and policy.repeat_flag_after == 3
    assert policy.first_response_minutes == 60 and policy.repeat_window_days == 30


def test_a_draft_keeps_the_policy_as_json_with_every_key():
    kept = json.loads(json.dumps(Policy.merged({"actions": ["hide", "mute"]}).as_dict()))
    assert set(kept) == set(POLICY_KEYS)
    assert kept["actions"] == ["hide", "mute"] and kept["required_role"] == "agent"
    assert Policy.merged(kept) == Policy(actions=("hide", "mute"))


def test_an_unknown_key_or_role_is_refused():
    with pytest.raises(TypeError):
        Policy.merged({"auto_sned": True})
    with pytest.raises(ValueError):
        Policy.merged({"required_role": "owner"})
