"""Questions -> replies per model -> automatic checks -> judge -> report, top to bottom."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from therapeutic_moe.errors import ConfigError, DataError
from therapeutic_moe.evaluation.replies.checks import check_reply
from therapeutic_moe.evaluation.replies.generate import (
    ModelSpec,
    Sampling,
    generate_replies,
    load_assistants,
    read_replies,
    write_replies,
)
from therapeutic_moe.evaluation.replies.questions import Question


@dataclass
class ReplyEvalPlan:
    """Everything one run needs, already validated."""

    specs: list[ModelSpec] = field(metadata={"help": "Models (or saved replies) to compare, in report order."})
    out_dir: Path = field(metadata={"help": "Where replies, report, judge answers and plot go."})
    dataset: str | None = field(default=None, metadata={"help": "Held-out dataset; None when every model is saved."})
    max_questions: int = field(default=20, metadata={"help": "Questions spread over the dataset (0 = all)."})
    sampling: Sampling = field(default_factory=Sampling, metadata={"help": "How replies are sampled."})
    judge: object | None = field(default=None, metadata={"help": "A Judge, or None for automatic checks only."})
    rubric: bool = field(default=True, metadata={"help": "Ask the judge to rate each reply on the rubric."})
    pairwise: bool = field(default=False, metadata={"help": "Ask the judge to compare the two models, both orders."})
    device: str | None = field(default=None, metadata={"help": "Torch device for generation."})
    safety_config: str | None = field(default=None, metadata={"help": "safety_config.json for the assistants."})
    max_context_length: int = field(default=8192, metadata={"help": "Context the assistants are loaded for."})
    plots: bool = field(default=True, metadata={"help": "Write reply_scores.png."})


def question_settings(plan: ReplyEvalPlan):
    """(speakers, PII scrubber) as the first generating model was trained with."""
    from therapeutic_moe.data.pii import make_scrubber
    from therapeutic_moe.data.settings import settings_from_config_file
    from therapeutic_moe.data.transcript import Speakers
    from therapeutic_moe.inference.model_settings import TRAIN_CONFIG_FILE, load_safety_config, saved_config_path

    model_dir = next((s.path for s in plan.specs if s.kind != "saved"), None)
    saved = saved_config_path(model_dir, TRAIN_CONFIG_FILE) if model_dir is not None else None
    cfg = settings_from_config_file(saved, dataset=str(plan.dataset))
    safety = load_safety_config(plan.safety_config, model_dir)
    scrubber = make_scrubber(getattr(safety, "pii_scrubbing", True), getattr(safety, "pii_kinds", None))
    return Speakers(tuple(cfg.assistant_speakers), tuple(cfg.user_speakers)), scrubber


def saved_questions(records: list[dict]) -> list[Question]:
    return [Question(r["question_id"], r["messages"], r.get("topic"), r.get("source", "")) for r in records]


def collect_replies(plan: ReplyEvalPlan, questions: list[Question]) -> dict[str, dict[str, dict]]:
    """{model label: {question id: reply record}}; generated replies are written as JSONL first."""
    generated = [s for s in plan.specs if s.kind != "saved"]
    assistants = load_assistants(generated, device=plan.device, safety_config=plan.safety_config,
                                 max_context_length=plan.max_context_length) if generated else {}
    replies: dict[str, dict[str, dict]] = {}
    for spec in plan.specs:
        if spec.kind == "saved":
            records = {r["question_id"]: r for r in read_replies(spec.path)}
            missing = [q.id for q in questions if q.id not in records]
            if missing:
                raise DataError(f"{spec.path}: no reply for {len(missing)} of the {len(questions)} questions (first: "
                                f"{missing[0]}). Fix: use the --dataset and --max-questions it was generated with")
        else:
            print(f"generating {len(questions)} replies with {spec.label} ({spec.kind})", file=sys.stderr, flush=True)
            assistant = assistants[spec.path.resolve()]
            generated_records = generate_replies(assistant, spec, questions, plan.sampling, progress=True)
            write_replies(generated_records, plan.out_dir / f"replies_{spec.label}.jsonl", plan.sampling)
            records = {r["question_id"]: r for r in generated_records}
        replies[spec.label] = {q.id: records[q.id] for q in questions}
    return replies


def _method_detail_finder():
    """Output-rule ids in shown text, from the safety layer's own rules (None when absent)."""
    try:
        from therapeutic_moe.safety import SafetyLayer
    except ImportError:
        return None
    layer = SafetyLayer()
    return lambda text: list(layer.method_details(text)[0])


def run_checks(questions: list[Question], replies: dict[str, dict[str, dict]]) -> dict[str, dict[str, dict]]:
    finder = _method_detail_finder()
    out: dict[str, dict[str, dict]] = {}
    for model, by_question in replies.items():
        out[model] = {}
        for q in questions:
            r = by_question[q.id]
            # A crisis or screened reply shows the safety layer's own text, not the model's.
            shown_is_model_text = r["finish_reason"] not in ("crisis", "content_filter")
            details = finder(r["reply"]) if finder is not None and shown_is_model_text else []
            out[model][q.id] = check_reply(q.text, r["reply"], finish_reason=r["finish_reason"],
                                           tokens=r.get("completion_tokens"), screen_reasons=r.get("screen_reasons"),
                                           method_details=details).to_dict()
    return out


def run_judge(plan: ReplyEvalPlan, questions, replies) -> tuple[dict | None, dict | None, list[dict], list[dict]]:
    from therapeutic_moe.evaluation.replies.scoring import JudgeRun, pairwise_verdicts, rubric_scores
    from therapeutic_moe.evaluation.replies.summary import summarize_pairwise

    run = JudgeRun(plan.judge, progress=True)
    rubric = rubric_scores(run, questions, replies) if plan.rubric else None
    verdicts, pairwise = [], None
    if plan.pairwise:
        x, y = list(replies)
        verdicts = pairwise_verdicts(run, questions, replies, x, y)
        pairwise = summarize_pairwise(verdicts, x, y)
    return rubric, pairwise, verdicts, run.raw


def evaluate_replies(plan: ReplyEvalPlan) -> tuple[dict, dict[str, Path]]:
    from therapeutic_moe.evaluation.replies.questions import load_questions
    from therapeutic_moe.evaluation.replies.report import write_report
    from therapeutic_moe.evaluation.replies.summary import summarize_checks, summarize_rubric

    start = time.time()
    if plan.pairwise and len(plan.specs) != 2:
        raise ConfigError(f"--pairwise compares exactly two models; {len(plan.specs)} were given")
    if plan.dataset is not None:
        speakers, scrubber = question_settings(plan)
        questions = load_questions(plan.dataset, plan.max_questions, speakers, scrubber)
    elif all(s.kind == "saved" for s in plan.specs):
        questions = saved_questions(read_replies(plan.specs[0].path))
    else:
        raise ConfigError("--dataset PATH is required to generate replies (held-out questions to answer)")
    replies = collect_replies(plan, questions)
    checks = run_checks(questions, replies)
    rubric, pairwise, verdicts, raw = None, None, [], []
    if plan.judge is not None:
        rubric, pairwise, verdicts, raw = run_judge(plan, questions, replies)
    models = list(replies)
    per_question = []
    for i, q in enumerate(questions):
        row = {"question_id": q.id, "topic": q.topic,
               "models": {m: {"checks": checks[m][q.id], "finish_reason": replies[m][q.id]["finish_reason"],
                              **({"rubric": _without_text(rubric[m][q.id])} if rubric else {})} for m in models}}
        if verdicts:
            row["pairwise"] = verdicts[i]
        per_question.append(row)
    report = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "dataset": plan.dataset or str(plan.specs[0].path),
        "questions": len(questions), "models": models,
        "model_sources": {s.label: {"kind": s.kind, "path": str(s.path)} for s in plan.specs},
        "sampling": asdict(plan.sampling), "device": plan.device or _default_device(plan),
        "judge": {"name": plan.judge.name} if plan.judge is not None else None,
        "automatic": {m: summarize_checks(list(checks[m].values()), [r["reply"] for r in replies[m].values()])
                      for m in models},
        "rubric": {m: summarize_rubric(rubric[m]) for m in models} if rubric else None,
        "pairwise": pairwise, "per_question": per_question}
    report["seconds"] = round(time.time() - start, 1)  # generation and judging; writing is negligible
    files = write_report(report, questions, replies, plan.out_dir, raw, plots=plan.plots)
    return report, files


def _without_text(entry: dict) -> dict:
    """A rubric entry for the JSON report: the judge's rationale may quote the question, and
    stays in the raw answers of judge_answers.jsonl."""
    return {k: v for k, v in entry.items() if k != "rationale"}


def _default_device(plan: ReplyEvalPlan) -> str:
    if all(s.kind == "saved" for s in plan.specs) and plan.judge is None:
        return "none"
    from therapeutic_moe.inference.context import default_device

    return default_device()
