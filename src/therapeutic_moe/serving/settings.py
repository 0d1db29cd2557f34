"""Server limits and access settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from therapeutic_moe.errors import ConfigError

API_KEY_ENV = "THERAPEUTIC_MOE_API_KEY"


@dataclass
class ServeSettings:
    """How the HTTP server is reached and what it accepts."""

    host: str = field(default="127.0.0.1", metadata={"help": "Address to bind; 127.0.0.1 keeps it on this machine."})
    port: int = field(default=8000, metadata={"help": "TCP port."})
    api_key: str | None = field(default=None, metadata={
        "help": "When set, every route but /health needs 'Authorization: Bearer KEY' (browsers: Basic auth "
                "with the key as password)."})
    max_request_bytes: int = field(default=1_000_000, metadata={"help": "Largest request body; larger gets 413."})
    max_new_tokens_limit: int = field(default=1024, metadata={"help": "Largest max_tokens a request may ask for."})
    default_max_new_tokens: int | None = field(default=None, metadata={
        "help": "max_tokens when a request gives none (default: 256, or max_new_tokens_limit if lower)."})
    max_concurrent: int = field(default=2, metadata={"help": "Replies generated at the same time (interleaved)."})
    max_queue: int = field(default=8, metadata={"help": "Requests allowed to wait for a slot; more get 429."})
    queue_timeout_s: float = field(default=30.0, metadata={"help": "Longest wait for a slot before 503."})
    max_messages: int = field(default=512, metadata={"help": "Most messages in one request."})

    def __post_init__(self) -> None:
        if self.default_max_new_tokens is None and isinstance(self.max_new_tokens_limit, int):
            self.default_max_new_tokens = min(256, self.max_new_tokens_limit)
        problems = []
        for name in ("max_request_bytes", "max_new_tokens_limit", "default_max_new_tokens", "max_concurrent",
                     "max_messages"):
            if getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)} must be >= 1")
        if self.max_queue < 0:
            problems.append(f"max_queue={self.max_queue} must be >= 0")
        if self.queue_timeout_s <= 0:
            problems.append(f"queue_timeout_s={self.queue_timeout_s} must be > 0")
        if not 0 <= self.port <= 65535:
            problems.append(f"port={self.port} must be between 0 and 65535")
        if self.default_max_new_tokens > self.max_new_tokens_limit:
            problems.append(f"default_max_new_tokens={self.default_max_new_tokens} is above "
                            f"max_new_tokens_limit={self.max_new_tokens_limit}")
        if self.api_key is not None and not self.api_key.strip():
            problems.append("api_key is empty; leave it unset for no authentication")
        if problems:
            raise ConfigError("serve settings: " + "; ".join(problems))

    @staticmethod
    def api_key_from_env() -> str | None:
        return os.environ.get(API_KEY_ENV) or None
