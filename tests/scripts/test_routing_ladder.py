"""scripts/routing_ladder.py: every arm is a valid trainer config; bad arms are one clear error."""

from __future__ import annotations

import importlib.util
import json

import pytest

from conftest import REPO_ROOT


def ladder():
    spec = importlib.util.spec_from_file_location("routing_ladder", REPO_ROOT / "scripts" / "routing_ladder.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_data(tmp_path):
    for split in ("train", "val"):
        rows = [{"text": f"Client: question {i}\nTherapist: answer {i}", "topic": "anxiety"} for i in range(5)]
        (tmp_path / f"counselchat_{split}.json").write_text(json.dumps({"conversations": rows}))
    return tmp_path


def test_every_arm_is_a_valid_train_config(tmp_path):
    from therapeutic_moe.config import load_run_config

    module = ladder()
    args = module.parse_args(["--data", str(fake_data(tmp_path)), "--arms", "all", "--steps", "12",
                              "--val_limit", "2", "--out", str(tmp_path / "out")])
    (tmp_path / "out").mkdir()
    for name in args.arm_names:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(module.arm_config(args, module.ARMS[name][1])))
        run = load_run_config(path, None, None, {})
        assert run.train.max_steps == 12 and run.train.max_seq_length == 512, name
    subset = json.loads((tmp_path / "out" / "counselchat_val_2_spaced.json").read_text())
    assert [c["text"][-1] for c in subset["conversations"]] == ["0", "2"]  # evenly spaced, not the first two
    recipe = module.arm_config(args, module.ARMS["moe_recipe"][1])
    assert recipe["load_balancing_warmup_steps"] == 6 and recipe["domain_routing_weight"] == 0.0
    # the documented ladders ran at expert_alpha 8; only the *alpha* arms change the scale
    assert module.arm_config(args, module.ARMS["moe_default"][1])["expert_alpha"] == 8
    assert module.ARMS["moe_recipe_lr100_alpha16"][1] == {**module.ARMS["moe_recipe_lr100"][1], "expert_alpha": 16}
    assert "expert_alpha" not in module.arm_config(args, module.ARMS["lora_all_linear"][1])


def test_unknown_arm_and_missing_data_are_clear_errors(tmp_path, capsys):
    module = ladder()
    with pytest.raises(SystemExit) as exc:
        module.parse_args(["--data", str(fake_data(tmp_path)), "--arms", "moe_default,nope"])
    assert exc.value.code == 2 and "unknown arms ['nope']" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        module.parse_args(["--data", str(tmp_path / "absent")])
    assert exc.value.code == 2 and "counselchat_train.json not found" in capsys.readouterr().err


def test_table_and_plot_from_finished_reports(tmp_path, capsys):
    """A finished arm is read from its training_report.json, not run again."""
    module = ladder()
    data = fake_data(tmp_path)
    out = tmp_path / "out"
    reports = {"lora_all_linear": {"global_step": 2, "parameters": {"trainable": 10}, "final_eval": {"val/perplexity": 20.5},
                                   "routing": {}, "seconds_per_step": 1.5},
               "moe_default": {"global_step": 2, "parameters": {"trainable": 11}, "final_eval": {"val/perplexity": 21.0},
                               "routing": {"token_entropy": 1.38, "usage_overall": [0.25] * 4, "routing_nmi": 0.01,
                                           "domain_vote_accuracy": 0.5}, "seconds_per_step": 2.0}}
    for name, rep in reports.items():
        (out / name).mkdir(parents=True)
        (out / name / "training_report.json").write_text(json.dumps(rep))
    assert module.main(["--data", str(data), "--arms", "lora_all_linear,moe_default", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| moe_default | 11 | 21.00 | 1.380 | 25% / 25% / 25% / 25% | 0.010 | 50.0% | 2.00 |" in printed
    assert (out / "ladder.png").stat().st_size > 0
    assert json.loads((out / "ladder.json").read_text())["rows"][0]["val_ppl"] == 20.5
