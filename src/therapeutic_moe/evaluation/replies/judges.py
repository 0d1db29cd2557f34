"""Judges behind one small interface: ``answer(messages) -> text``.

``EndpointJudge`` talks to any OpenAI-compatible ``/chat/completions`` endpoint (a local
vLLM or llama.cpp server, or a hosted API) with the standard library's HTTP client; nothing
is sent anywhere unless the user names the endpoint. ``LocalJudge`` runs a local Hugging
Face model directory (or the embedded default model) with transformers' own ``generate``,
greedy, so its ratings are reproducible.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Protocol

from therapeutic_moe.errors import ConfigError, UserError


class JudgeError(UserError):
    """The judge could not be reached or gave no answer."""


class Judge(Protocol):
    name: str

    def answer(self, messages: list[dict]) -> str:
        """The judge's raw text answer to chat ``messages``."""


@dataclass
class JudgeSettings:
    """How a judge answers."""

    max_new_tokens: int = field(default=200, metadata={"help": "Most tokens per judge answer."})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy (reproducible ratings)."})
    timeout_s: float = field(default=120.0, metadata={"help": "Seconds to wait for one endpoint answer."})


def completions_url(base_url: str) -> str:
    """Accept a base URL (.../v1) or the full .../chat/completions URL."""
    url = base_url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--judge-endpoint {base_url!r}: not an http(s) URL; give e.g. http://127.0.0.1:8080/v1")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


class EndpointJudge:
    def __init__(self, base_url: str, model: str, settings: JudgeSettings, api_key: str | None = None):
        self.url = completions_url(base_url)
        self.model = model
        self.settings = settings
        self.api_key = api_key
        self.name = f"{model} @ {self.url}"

    @classmethod
    def from_args(cls, base_url: str, model: str | None, settings: JudgeSettings,
                  api_key_env: str | None) -> "EndpointJudge":
        if not model:
            raise ConfigError("--judge-endpoint needs --judge-model NAME (the model name the endpoint serves)")
        key = None
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise ConfigError(f"--judge-api-key-env {api_key_env}: that environment variable is not set")
        return cls(base_url, model, settings, key)

    def answer(self, messages: list[dict]) -> str:
        body = {"model": self.model, "messages": messages, "temperature": self.settings.temperature,
                "max_tokens": self.settings.max_new_tokens, "stream": False}
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode("utf-8"), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise JudgeError(f"judge endpoint {self.url} answered HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise JudgeError(f"judge endpoint {self.url} cannot be reached ({reason}). Fix: start the server or "
                             f"correct --judge-endpoint") from None
        except ValueError:
            raise JudgeError(f"judge endpoint {self.url} did not answer JSON") from None
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise JudgeError(f"judge endpoint {self.url}: the answer has no choices[0].message.content "
                             f"(is it an OpenAI-compatible chat-completions endpoint?)") from None
        return content if isinstance(content, str) else ""


class LocalJudge:
    def __init__(self, model, tokenizer, settings: JudgeSettings, name: str):
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.name = name
        self.limit = getattr(model.config, "max_position_embeddings", None)

    @classmethod
    def load(cls, name_or_dir: str, settings: JudgeSettings, device: str | None = None) -> "LocalJudge":
        from pathlib import Path

        from therapeutic_moe.errors import ModelDirError
        from therapeutic_moe.inference.context import default_device
        from therapeutic_moe.modeling.base_model import load_base_model, load_tokenizer, resolve_base_model

        path = Path(name_or_dir)
        if path.is_dir() and (path / "adapter_config.json").is_file() and not (path / "config.json").is_file():
            raise ModelDirError(f"--judge-local {path}: a trained adapter directory, not a full model; give a "
                                f"Hugging Face model directory or 'smollm2-135m-instruct'")
        resolved = resolve_base_model(name_or_dir)
        import torch

        device = device or default_device()
        dtype = torch.bfloat16 if str(device).startswith("cuda") else torch.float32
        model = load_base_model(resolved, device=device, dtype=dtype)
        model.eval()
        tokenizer = load_tokenizer(resolved)
        if not getattr(tokenizer, "chat_template", None):
            raise ModelDirError(f"--judge-local {name_or_dir}: the tokenizer has no chat template; a judge must be "
                                f"an instruction-tuned chat model")
        return cls(model, tokenizer, settings, f"local {Path(resolved).name}")

    def answer(self, messages: list[dict]) -> str:
        import torch

        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        if self.limit and ids.shape[1] + self.settings.max_new_tokens > self.limit:
            raise JudgeError(f"judge prompt of {ids.shape[1]} tokens + {self.settings.max_new_tokens} new tokens "
                             f"exceeds the judge model's {self.limit} positions; lower --max-new-tokens")
        ids = ids.to(next(self.model.parameters()).device)
        greedy = self.settings.temperature <= 0
        with torch.inference_mode():
            out = self.model.generate(ids, attention_mask=torch.ones_like(ids),
                                      max_new_tokens=self.settings.max_new_tokens, do_sample=not greedy,
                                      temperature=None if greedy else self.settings.temperature,
                                      top_p=None, top_k=None, pad_token_id=self.tokenizer.pad_token_id)
        return self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
