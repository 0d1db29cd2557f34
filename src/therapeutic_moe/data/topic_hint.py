"""`data check`'s pointer to a topic map when records carry a ``topic`` but no map is set.

Without ``topic_to_domain`` such records get no domain label, so supervised routing never
sees them; the report then says how many and which bundled map would label them.
"""

from __future__ import annotations

from collections import Counter

from therapeutic_moe.data.domains import bundled_topic_maps, domain_index, resolve_topic_map
from therapeutic_moe.data.types import Conversation
from therapeutic_moe.errors import ConfigError


def topic_map_hint(conversations: list[Conversation], topic_to_domain, expert_domains: list[str]) -> str | None:
    """One line naming the map (or the topics to map), or None when nothing is left unlabelled."""
    if topic_to_domain or not expert_domains:
        return None
    waiting = [c for c in conversations if c.topic and c.domain is None]
    if not waiting:
        return None
    coverage = {}
    for name in bundled_topic_maps():
        try:
            topic_map = resolve_topic_map(name, expert_domains)
        except ConfigError:  # the map names domains this config does not have
            continue
        coverage[name] = sum(1 for c in waiting if domain_index(c, topic_map, expert_domains) >= 0)
    best = max(coverage, key=coverage.get) if coverage else None
    head = (f"{len(waiting)} conversations have a 'topic' but no domain, and no topic_to_domain map is set, "
            f"so supervised routing ignores them.")
    if best and coverage[best]:
        return (f"{head} The bundled map {best!r} labels {coverage[best]} of them: set \"topic_to_domain\": "
                f"\"{best}\" in the training config (data check: --topic-to-domain {best}).")
    common = ", ".join(f"{t} ({n})" for t, n in Counter(c.topic for c in waiting).most_common(5))
    return (f"{head} Map them with \"topic_to_domain\": {{\"topic\": \"one of expert_domains\", ...}} in the "
            f"training config; most common topics: {common}.")
