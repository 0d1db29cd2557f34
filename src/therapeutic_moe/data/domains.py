"""Domain labels for supervised expert routing: an explicit ``domain`` or a mapped ``topic``."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Mapping

from therapeutic_moe.data.types import Conversation
from therapeutic_moe.errors import ConfigError, DataError

TOPIC_MAP_DIR = Path(__file__).with_name("topic_maps")


def bundled_topic_maps() -> list[str]:
    """Names accepted as ``topic_to_domain`` strings, e.g. "counselchat"."""
    return sorted(p.stem for p in TOPIC_MAP_DIR.glob("*.json"))


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _normalize_topic(topic: str) -> str:
    return " ".join(topic.casefold().split())


def resolve_topic_map(value: Mapping[str, str] | str | None, expert_domains: list[str]) -> dict[str, str]:
    """Load and check a topic → domain map given as a dict, a bundled map name, or a JSON file path."""
    if not value:
        return {}
    source = "topic_to_domain"
    if isinstance(value, (str, Path)):
        bundled = TOPIC_MAP_DIR / f"{value}.json"
        path = bundled if bundled.is_file() else Path(value)
        if not path.is_file():
            raise ConfigError(f"topic_to_domain {str(value)!r}: neither a bundled map {bundled_topic_maps()} nor an "
                              f"existing JSON file. Fix: give a map name, a path to a JSON object, or a dict")
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not a valid JSON topic map ({exc}). Fix: write a JSON object "
                              f'{{"topic": "domain", ...}}') from None
        source = str(path)
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{source}: must map topic strings to domain strings, e.g. "
                          f'{{"anxiety": "mental_health"}}')
    for topic, domain in value.items():
        if expert_domains and domain not in expert_domains:
            raise ConfigError(f"{source}: topic {topic!r} maps to unknown domain {domain!r}; known domains: "
                              f"{expert_domains}.{did_you_mean(domain, expert_domains)} Fix: map it to one of "
                              f"them or add it to expert_domains")
    return {_normalize_topic(k): v for k, v in value.items()}


def domain_index(conv: Conversation, topic_map: Mapping[str, str], expert_domains: list[str]) -> int:
    """Expert index of the conversation's domain, -1 when it has none (or no experts are named)."""
    if not expert_domains:
        return -1
    if conv.domain is not None:
        if conv.domain in expert_domains:
            return expert_domains.index(conv.domain)
        raise DataError(f"{conv.source}: field 'domain': unknown domain {conv.domain!r}; known domains: "
                        f"{expert_domains}.{did_you_mean(conv.domain, expert_domains)} Fix: use one of them or "
                        f"add it to expert_domains in the training config")
    if conv.topic and topic_map:
        # Multi-topic records ("weight loss; diet") take the first topic that has a mapping.
        for topic in [conv.topic, *conv.topic.split(";")]:
            domain = topic_map.get(_normalize_topic(topic))
            if domain is not None:
                return expert_domains.index(domain)
    return -1
