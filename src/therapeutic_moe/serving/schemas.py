"""OpenAI-compatible request bodies.

Sampling fields are honoured (temperature, top_p, top_k, presence/frequency/repetition
penalties, stop, seed, max_tokens). OpenAI fields that would change the reply but that this
server does not implement are refused with 400 naming the field (``UNSUPPORTED``), never
ignored; other unknown fields (``user``, ``metadata``, ...) do not change a reply and are
ignored, as OpenAI clients send many."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from therapeutic_moe.inference.generation import DEFAULT_REPETITION_PENALTY, MAX_STOP_STRINGS

# field -> the value that means "not used"; anything else would silently change the answer.
UNSUPPORTED = {"logit_bias": (None, {}), "logprobs": (None, False), "top_logprobs": (None, 0),
               "tools": (None, []), "functions": (None, []), "tool_choice": (None, "none"),
               "response_format": (None, {"type": "text"}), "audio": (None,), "modalities": (None, ["text"]),
               "prediction": (None,), "best_of": (None, 1), "echo": (None, False), "suffix": (None,)}


def unsupported_field(data: dict) -> str | None:
    """The first OpenAI field in a request body that is set to something this server cannot do."""
    for name, neutral in UNSUPPORTED.items():
        if name in data and data[name] not in neutral:
            return name
    return None


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant"]
    content: str | list[TextPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = Field(default=None, description="Ignored beyond echoing: one model is served.")
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    top_p: float = Field(default=0.9, gt=0.0, le=1.0)
    repetition_penalty: float = Field(default=DEFAULT_REPETITION_PENALTY, ge=1.0, le=2.0,
                                      description="Not in OpenAI's API (vLLM's name): penalty on tokens the "
                                                  "reply already used; 1 = off.")
    top_k: int = Field(default=0, ge=-1, description="Not in OpenAI's API (vLLM's name): sample from the k most "
                                                    "likely tokens; 0 or -1 = off.")
    presence_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    stop: str | list[str] | None = Field(default=None, description="Up to 4 strings; the reply ends before the "
                                                                   "first one and does not contain it.")
    n: int = Field(default=1, ge=1, le=1, description="Only one choice per request is supported.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    seed: int | None = None

    def stop_strings(self) -> tuple[str, ...]:
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())

    def stop_problem(self) -> str | None:
        stops = self.stop_strings()
        if len(stops) > MAX_STOP_STRINGS:
            return f"stop: at most {MAX_STOP_STRINGS} strings, got {len(stops)}"
        if any(not s for s in stops):
            return "stop: empty strings are not allowed"
        return None
