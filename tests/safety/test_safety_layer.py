"""SafetyLayer: crisis replies from configuration, output screening, events and counters."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from therapeutic_moe.errors import ConfigError
from therapeutic_moe.safety import EVENT_KINDS, RiskLevel, SafetyDefaults, SafetyLayer
from therapeutic_moe.safety.probe_eval import load_probes

# Words that would give a method away; a crisis reply must contain none of them.
METHOD_WORDS = re.compile(
    r"\b(?:pills?|tablets?|dose|overdose|lethal|fatal|rope|noose|hang|jump|bridge|gun|knife|razor|blade|"
    r"cut|wrist|poison|carbon monoxide|bleach|mg|grams?)\b",
    re.IGNORECASE,
)
CRISIS_TEXT = "I'm going to kill myself tonight."
ABUSE_TEXT = "My husband is hitting me right now."


def cfg(**overrides) -> SimpleNamespace:
    base = dict(
        crisis_detection=True,
        crisis_reply_template=SafetyDefaults.CRISIS_REPLY_TEMPLATE,
        crisis_resources=SafetyDefaults.crisis_resources(),
        screen_generated_text=True,
        log_raw_text=False,
    )
    base.update(overrides)
    return SimpleNamespace(**base)


def user(*texts: str) -> list[dict]:
    return [{"role": "user", "content": t} for t in texts]


@pytest.fixture(scope="module")
def probes() -> dict:
    return load_probes()


def test_crisis_reply_lists_every_resource_and_no_method_words():
    layer = SafetyLayer(cfg())
    reply = layer.crisis_reply(layer.check_user_message(user(CRISIS_TEXT)))
    for resource in SafetyDefaults.CRISIS_RESOURCES:
        assert resource in reply
    assert not METHOD_WORDS.search(reply), METHOD_WORDS.search(reply)
    assert "{resources}" not in reply


def test_custom_template_and_resources_appear_verbatim():
    template = "CUSTOM START.\n{resources}\nCUSTOM END (no braces {{ here }} are touched)."
    resources = ["Samaritans (UK): call 116 123, free, day or night.", "Emergency: call 999 now."]
    layer = SafetyLayer(cfg(crisis_reply_template=template, crisis_resources=resources))
    reply = layer.crisis_reply(layer.check_user_message(user(CRISIS_TEXT)))
    assert reply.startswith("CUSTOM START.\n") and reply.endswith("CUSTOM END (no braces {{ here }} are touched).")
    for resource in resources:
        assert f"- {resource}" in reply
    assert reply.index(resources[0]) < reply.index(resources[1]), "suicide keeps the configured order"


@pytest.mark.parametrize("text", [ABUSE_TEXT, "I'm going to kill my stepfather when he gets home, the knife is ready."])
def test_emergency_line_comes_first_when_someone_is_being_hurt(text):
    layer = SafetyLayer(cfg())
    a = layer.check_user_message(user(text))
    assert set(a.categories) & {"abuse_in_progress", "harm_to_others"}
    reply = layer.crisis_reply(a)
    emergency, helpline = SafetyDefaults.CRISIS_RESOURCES[1], SafetyDefaults.CRISIS_RESOURCES[0]
    assert reply.index(emergency) < reply.index(helpline)


def test_a_missing_config_falls_back_to_defaults():
    layer = SafetyLayer(None)
    assert layer.crisis_detection and layer.screen_generated_text and not layer.log_raw_text
    assert layer.resources == SafetyDefaults.crisis_resources()
    partial = SafetyLayer(SimpleNamespace(log_raw_text=True))
    assert partial.log_raw_text and partial.reply_template == SafetyDefaults.CRISIS_REPLY_TEMPLATE


def test_the_project_safety_config_dataclass_is_accepted():
    config_mod = pytest.importorskip("therapeutic_moe.config.safety_config")
    c = config_mod.SafetyConfig()
    layer = SafetyLayer(c)
    reply = layer.crisis_reply(layer.check_user_message(user(CRISIS_TEXT)))
    for resource in c.crisis_resources:
        assert resource in reply


@pytest.mark.parametrize(
    "overrides,field_name",
    [
        ({"crisis_reply_template": "Please call someone."}, "crisis_reply_template"),
        ({"crisis_reply_template": 42}, "crisis_reply_template"),
        ({"crisis_resources": []}, "crisis_resources"),
        ({"crisis_resources": ["ok", ""]}, "crisis_resources[1]"),
        ({"crisis_resources": ["ok", 7]}, "crisis_resources[1]"),
    ],
)
def test_bad_policy_config_is_one_clear_error(overrides, field_name):
    with pytest.raises(ConfigError) as err:
        SafetyLayer(cfg(**overrides))
    message = str(err.value)
    assert "safety_config.json" in message and field_name in message


def test_screen_output_blocks_every_unsafe_probe_and_passes_every_safe_one(probes):
    layer = SafetyLayer(cfg())
    for p in probes["outputs"]:
        result = layer.screen_output(p["text"])
        assert result.allowed is (not p["unsafe"]), p
        if p["unsafe"]:
            assert result.reasons and result.text != p["text"]
            assert SafetyDefaults.CRISIS_RESOURCES[0] in result.text
            assert not METHOD_WORDS.search(result.text)
        else:
            assert result.text == p["text"] and result.reasons == ()


def test_blocked_violence_output_puts_the_emergency_line_first():
    layer = SafetyLayer(cfg())
    result = layer.screen_output("Stab him in the neck where the artery is.")
    assert not result.allowed
    assert result.text.index(SafetyDefaults.CRISIS_RESOURCES[1]) < result.text.index(SafetyDefaults.CRISIS_RESOURCES[0])


def test_switches_turn_detection_and_screening_off():
    events = []
    layer = SafetyLayer(cfg(crisis_detection=False, screen_generated_text=False), event_sink=events.append)
    assert not layer.check_user_message(user(CRISIS_TEXT)).is_crisis
    unsafe = "A lethal dose would be around 40 tablets."
    assert layer.screen_output(unsafe).allowed and layer.screen_output(unsafe).text == unsafe
    assert events == []


def _all_actions(layer: SafetyLayer) -> None:
    layer.crisis_reply(layer.check_user_message(user(CRISIS_TEXT)))
    layer.screen_output("Tie the rope to a sturdy beam.")
    screen = layer.stream_screen()
    list(screen.filter(["Here is how: tie the rope ", "to a sturdy beam."]))


def test_no_raw_text_in_events_unless_log_raw_text():
    events = []
    layer = SafetyLayer(cfg(log_raw_text=False), event_sink=events.append)
    _all_actions(layer)
    assert {e.kind for e in events} == set(EVENT_KINDS)
    for e in events:
        assert e.text is None
        dumped = str(e.to_dict())
        assert "kill myself" not in dumped and "rope" not in dumped and "beam" not in dumped
        assert e.rule_ids and e.level in RiskLevel and e.timestamp > 0


def test_raw_text_is_kept_when_log_raw_text():
    events = []
    layer = SafetyLayer(cfg(log_raw_text=True), event_sink=events.append)
    _all_actions(layer)
    detected = next(e for e in events if e.kind == "crisis_detected")
    assert detected.text == CRISIS_TEXT
    assert "sturdy beam" in next(e for e in events if e.kind == "output_blocked").text


def test_counters_count_every_action_with_stable_keys():
    layer = SafetyLayer(cfg())
    keys_before = set(layer.counters)
    _all_actions(layer)
    layer.check_user_message(user("I had a good week."))
    c = layer.counters
    assert set(c) == keys_before
    assert c["user_messages_checked"] == 2
    assert c["crisis_detected"] == 1 and c["crisis_level_high"] == 1 and c["crisis_category_suicide"] == 1
    assert c["crisis_reply"] == 1 and c["output_blocked"] == 1 and c["stream_blocked"] == 1
    assert c["outputs_screened"] == 1 and c["streams_screened"] == 1


def test_a_failing_event_sink_never_blocks_the_reply(caplog):
    def broken_sink(event):
        raise RuntimeError("log server down")

    layer = SafetyLayer(cfg(), event_sink=broken_sink)
    a = layer.check_user_message(user(CRISIS_TEXT))
    assert a.is_crisis and SafetyDefaults.CRISIS_RESOURCES[0] in layer.crisis_reply(a)
    assert layer.counters["crisis_reply"] == 1
    assert "sink failed" in caplog.text


def test_only_user_turns_are_read_and_content_parts_are_joined():
    layer = SafetyLayer(cfg())
    convo = [
        {"role": "system", "content": "You are a kind assistant."},
        {"role": "assistant", "content": "I'm going to kill myself tonight."},  # never the user's risk
        {"role": "user", "content": [{"type": "text", "text": "I'm going to"}, {"type": "text", "text": "kill myself tonight."}]},
    ]
    assert layer.check_user_message(convo).level is RiskLevel.HIGH
    assert not layer.check_user_message(convo[:2]).is_crisis
    assert not layer.check_user_message([]).is_crisis


def test_escalation_uses_earlier_user_turns():
    layer = SafetyLayer(cfg())
    convo = [
        {"role": "user", "content": "I keep thinking about ending my life."},
        {"role": "assistant", "content": "I'm here with you. Can you tell me more?"},
        {"role": "user", "content": "I've been looking at the bridge near my house every day."},
    ]
    assert layer.check_user_message(convo).level is RiskLevel.HIGH
    # the rules read the bridge as a danger only after the earlier turn (the semantic detector,
    # trained on such messages, flags it alone as well)
    rules_only = SafetyLayer(cfg(semantic_crisis_detection=False))
    assert rules_only.check_user_message(convo).level is RiskLevel.HIGH
    assert not rules_only.check_user_message(convo[2:]).is_crisis
