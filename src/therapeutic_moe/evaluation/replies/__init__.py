"""Judge the replies, not only the perplexity: generated replies to held-out questions,
automatic checks, a rubric judge (OpenAI-compatible endpoint or local model) and a
position-swapped pairwise comparison. See docs/evaluation.md.

Names load on first use so that `therapeutic-moe --help` never imports torch.
"""

_EXPORTS = {
    "check_reply": "checks", "ReplyChecks": "checks", "load_questions": "questions", "Question": "questions",
    "DIMENSIONS": "rubric", "parse_rubric": "rubric", "parse_pairwise": "rubric",
    "EndpointJudge": "judges", "LocalJudge": "judges", "JudgeSettings": "judges", "JudgeError": "judges",
    "ReplyEvalPlan": "pipeline", "evaluate_replies": "pipeline", "Sampling": "generate", "parse_model_spec": "generate",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"therapeutic_moe.evaluation.replies.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'therapeutic_moe.evaluation.replies' has no attribute {name!r}")
