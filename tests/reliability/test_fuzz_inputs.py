"""Property-based fuzzing of everything a user hands the package: dataset files, config files,
command-line overrides, checkpoint manifests and model-directory files.

The property: any input gives a valid result or a ``UserError`` subclass with a non-empty
message; never another exception (which the command line would show as a traceback).
Examples are derandomized, so CI runs the same inputs every time.
"""

from __future__ import annotations

import io
import json
import tempfile
import warnings
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from therapeutic_moe.config import RunConfig, load_run_config, parse_cli_overrides
from therapeutic_moe.config.overrides import all_keys
from therapeutic_moe.data import Conversation, load_conversations
from therapeutic_moe.errors import UserError
from therapeutic_moe.modeling.saving import read_moe_weights
from therapeutic_moe.moe import MoEConfig
from therapeutic_moe.training.checkpoint import verify_checkpoint

from . import tally

pytestmark = pytest.mark.slow
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats() | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8), inner, max_size=4), max_leaves=10)
speakers = st.sampled_from(["Therapist", "Client", "Counselor", "Patient", "User", "Assistant", "", "THERAPIST", "T"])
transcripts = st.lists(st.tuples(speakers, st.text(max_size=30)), max_size=6).map(
    lambda turns: "\n".join(f"{who}: {said}" if who else said for who, said in turns))
messages = st.fixed_dictionaries({}, optional={
    "role": st.sampled_from(["user", "assistant", "system", "tool", "", "User"]) | json_values,
    "content": st.text(max_size=30) | json_values,
})
labels = {"domain": st.text(max_size=12) | json_values, "id": st.text(max_size=8) | json_values,
          "topic": st.text(max_size=12) | json_values}
records = st.one_of(
    st.fixed_dictionaries({"text": transcripts | json_values}, optional=labels),
    st.fixed_dictionaries({"messages": st.lists(messages | json_values, max_size=5) | json_values}, optional=labels),
    st.fixed_dictionaries({"text": transcripts, "messages": st.lists(messages, max_size=2)}),
    json_values,
)
documents = st.one_of(
    st.fixed_dictionaries({"conversations": st.lists(records, max_size=5) | json_values}),
    st.lists(records, max_size=5),
    records,
)


def expect_result_or_user_error(call):
    """Run ``call``; a UserError must carry a message. Returns the result or the error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()
    except UserError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return exc


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


@FUZZ
@given(raw=st.binary(max_size=300), suffix=st.sampled_from([".json", ".jsonl"]))
def test_dataset_loader_random_bytes(scratch, raw, suffix):
    path = scratch / f"data{suffix}"
    path.write_bytes(raw)
    result = expect_result_or_user_error(lambda: load_conversations(path))
    assert isinstance(result, (list, UserError))
    tally.add("fuzz: dataset files", 1)


@FUZZ
@given(document=documents, as_jsonl=st.booleans())
def test_dataset_loader_json_shapes(scratch, document, as_jsonl):
    path = scratch / ("data.jsonl" if as_jsonl else "data.json")
    if as_jsonl and isinstance(document, list):
        path.write_text("\n".join(json.dumps(r) for r in document))
    else:
        path.write_text(json.dumps(document))
    result = expect_result_or_user_error(lambda: load_conversations(path))
    if isinstance(result, list):
        assert all(isinstance(c, Conversation) and c.turns for c in result)
    tally.add("fuzz: dataset files", 1)


config_keys = st.sampled_from(all_keys() + ["lerning_rate", "train.max_steps", "wandb.mode", "_version", ""]) | st.text(
    max_size=12)


@FUZZ
@given(train=st.dictionaries(config_keys, json_values, max_size=6) | json_values,
       wandb=st.dictionaries(config_keys, json_values, max_size=3),
       safety=st.dictionaries(config_keys, json_values, max_size=3),
       overrides=st.dictionaries(config_keys, st.text(max_size=16) | json_values.map(json.dumps), max_size=3))
def test_config_loader_random_keys_and_values(scratch, train, wandb, safety, overrides):
    paths = []
    for name, content in (("train", train), ("wandb", wandb), ("safety", safety)):
        paths.append(scratch / f"{name}.json")
        paths[-1].write_text(json.dumps(content))
    result = expect_result_or_user_error(lambda: load_run_config(*paths, overrides=overrides))
    assert isinstance(result, (RunConfig, UserError))
    tally.add("fuzz: config files", 1)


@FUZZ
@given(text=st.text(max_size=200) | st.lists(st.sampled_from(
    ['{', '}', '"learning_rate"', ':', '1e-4', ',', '// note', '\n', '"max_steps"', '"x"', '[', ']', '/*', '"']),
    max_size=20).map("".join))
def test_config_loader_random_text(scratch, text):
    path = scratch / "train.json"
    path.write_text(text)
    empty = scratch / "empty.json"
    empty.write_text("{}")
    result = expect_result_or_user_error(lambda: load_run_config(path, empty, empty))
    assert isinstance(result, (RunConfig, UserError))
    tally.add("fuzz: config files", 1)


@FUZZ
@given(argv=st.lists(st.one_of(config_keys.map(lambda k: f"--{k}"), st.sampled_from(
    ["--", "-x", "--bf16", "--mode=online", "--learning-rate=1e-4", "--expert_domains", "--train.lora_r"]),
    st.text(max_size=12)), max_size=8))
def test_cli_override_parser(argv):
    result = expect_result_or_user_error(lambda: parse_cli_overrides(argv))
    assert isinstance(result, (dict, UserError))
    if isinstance(result, dict):
        result = expect_result_or_user_error(lambda: load_run_config(None, None, None, result))
    tally.add("fuzz: command lines", 1)


@FUZZ
@given(manifest=json_values | st.fixed_dictionaries({"files": json_values}) | st.fixed_dictionaries(
    {"files": st.dictionaries(st.sampled_from(["weights.bin", "x"]), json_values, max_size=2)}))
def test_checkpoint_manifest_any_content(scratch, manifest):
    ckpt = scratch / "checkpoint-1"
    ckpt.mkdir(exist_ok=True)
    (ckpt / "weights.bin").write_bytes(b"0123456789")
    (ckpt / "COMPLETE").write_text(json.dumps(manifest))
    reason = verify_checkpoint(ckpt)
    assert reason is None or (isinstance(reason, str) and reason)
    tally.add("fuzz: checkpoint manifests", 1)


@FUZZ
@given(raw=st.binary(max_size=400))
def test_moe_weights_random_bytes(scratch, raw):
    path = scratch / "moe_layers.pt"
    path.write_bytes(raw)
    result = expect_result_or_user_error(lambda: read_moe_weights(path))
    assert isinstance(result, UserError) or all(isinstance(v, torch.Tensor) for v in result.values())
    tally.add("fuzz: model-directory files", 1)


@FUZZ
@given(content=st.dictionaries(st.text(max_size=6), json_values | st.just(torch.zeros(1)), max_size=3)
       | st.lists(st.just(torch.zeros(2)), max_size=2) | st.integers())
def test_moe_weights_wrong_contents(scratch, content):
    buffer = io.BytesIO()
    torch.save(content, buffer)
    path = scratch / "moe_layers.pt"
    path.write_bytes(buffer.getvalue())
    result = expect_result_or_user_error(lambda: read_moe_weights(path))
    assert isinstance(result, UserError) or all(isinstance(v, torch.Tensor) for v in result.values())
    tally.add("fuzz: model-directory files", 1)


moe_fields = ["expert_domains", "top_k", "expert_r", "expert_alpha", "expert_dropout", "target_modules",
              "router_init_std", "num_experts", "format_version"]


@FUZZ
@given(data=st.dictionaries(st.sampled_from(moe_fields) | st.text(max_size=6), json_values, max_size=5))
def test_moe_config_any_content(data):
    result = expect_result_or_user_error(lambda: MoEConfig.from_dict(data))
    assert isinstance(result, (MoEConfig, UserError))
    tally.add("fuzz: model-directory files", 1)
