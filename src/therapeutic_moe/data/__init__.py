"""Data pipeline: transcripts and chat records → scrubbed, windowed, labelled training examples.

Light to import (no torch until a batch is collated). One batch path: ``packing.plan_epoch``
plans rows and micro-batches, ``collate.collate`` turns them into tensors (the
module, not re-exported here: ``data.collate`` stays the module's name).
"""

from therapeutic_moe.data.chat_render import FALLBACK_CHAT_TEMPLATE, IGNORE_INDEX, encode_chat
from therapeutic_moe.data.collate import PackedCollator, PaddedCollator
from therapeutic_moe.data.domains import resolve_topic_map
from therapeutic_moe.data.formats import load_conversations
from therapeutic_moe.data.packing import packing_efficiency, padding_efficiency, plan_epoch, plan_packed_batches
from therapeutic_moe.data.pii import PII_KINDS, PiiScrubber
from therapeutic_moe.data.prepare import PreparedData, bundled_sample_path, prepare_datasets
from therapeutic_moe.data.report import DataReport
from therapeutic_moe.data.settings import DataSettings
from therapeutic_moe.data.split import dedupe, split_conversations
from therapeutic_moe.data.transcript import Speakers, parse_transcript
from therapeutic_moe.data.types import Conversation, Example, Turn

__all__ = [
    "Conversation", "DataReport", "DataSettings", "Example", "FALLBACK_CHAT_TEMPLATE", "IGNORE_INDEX",
    "PII_KINDS", "PackedCollator", "PaddedCollator", "PiiScrubber", "PreparedData", "Speakers", "Turn",
    "bundled_sample_path", "dedupe", "encode_chat", "load_conversations", "packing_efficiency",
    "padding_efficiency", "parse_transcript", "plan_epoch", "plan_packed_batches", "prepare_datasets", "resolve_topic_map",
    "split_conversations",
]

