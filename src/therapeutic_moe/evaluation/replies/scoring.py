"""Ask a judge about every reply (rubric) and every pair of replies (both orders).

Every raw answer is kept with what was parsed from it. The first judge call that fails
stops the run (a wrong URL or a missing server is a user error); a later failure is
recorded as an error for that item and the run goes on, so one timeout does not lose an
hour of judging.
"""

from __future__ import annotations

import sys
import time

from therapeutic_moe.evaluation.replies.judges import JudgeError
from therapeutic_moe.evaluation.replies.rubric import pairwise_messages, parse_pairwise, parse_rubric, rubric_messages


class JudgeRun:
    """Calls a judge, keeps every raw answer, and stops on a failing first call."""

    def __init__(self, judge, progress: bool = False):
        self.judge = judge
        self.raw: list[dict] = []
        self.progress = progress
        self._calls = 0

    def ask(self, messages: list[dict], record: dict) -> str | None:
        start = time.perf_counter()
        self._calls += 1
        try:
            answer = self.judge.answer(messages)
        except JudgeError as exc:
            if self._calls == 1:
                raise
            self.raw.append({**record, "answer": None, "error": str(exc)})
            return None
        self.raw.append({**record, "answer": answer, "seconds": round(time.perf_counter() - start, 2)})
        if self.progress and self._calls % 5 == 0:
            print(f"  judge: {self._calls} answers", file=sys.stderr, flush=True)
        return answer


def rubric_scores(run: JudgeRun, questions: list, replies: dict[str, dict[str, dict]]) -> dict[str, dict[str, dict]]:
    """{model: {question_id: {"scores", "status", "rationale"}}} for every reply."""
    out: dict[str, dict[str, dict]] = {}
    for model, by_question in replies.items():
        out[model] = {}
        for question in questions:
            if by_question[question.id]["finish_reason"] == "crisis":
                # The safety layer's fixed reply: nothing the model wrote to rate.
                out[model][question.id] = {"scores": {}, "status": "skipped", "rationale": "crisis reply"}
                continue
            reply = by_question[question.id]["reply"]
            answer = run.ask(rubric_messages(question.text, reply),
                             {"kind": "rubric", "model": model, "question_id": question.id})
            if answer is None:
                out[model][question.id] = {"scores": {}, "status": "error", "rationale": None}
                continue
            parsed = parse_rubric(answer)
            run.raw[-1].update(status=parsed.status, parsed=parsed.scores)
            out[model][question.id] = {"scores": parsed.scores, "status": parsed.status, "rationale": parsed.rationale}
    return out


def combine_orders(first: str | None, second: str | None) -> str:
    """Verdict of model X vs Y from 'X as A' then 'Y as A' answers (A/B/tie/None).

    Returns 'x', 'y', 'tie', 'inconsistent' (each order picked the same position, so the
    choice followed the position, not the reply) or 'unparsable'.
    """
    if first is None or second is None:
        return "unparsable"
    x_first = {"A": "x", "B": "y", "tie": "tie"}[first]
    x_second = {"A": "y", "B": "x", "tie": "tie"}[second]
    if x_first == x_second:
        return x_first
    if "tie" in (x_first, x_second):
        return "tie"  # a win in one order, a tie in the other: no consistent preference
    return "inconsistent"


def pairwise_verdicts(run: JudgeRun, questions: list, replies: dict[str, dict[str, dict]],
                      x: str, y: str) -> list[dict]:
    """One verdict per question for models x and y, each pair asked in both orders."""
    verdicts = []
    for question in questions:
        if all(replies[m][question.id]["finish_reason"] == "crisis" for m in (x, y)):
            verdicts.append({"question_id": question.id, "x_first": None, "y_first": None, "result": "skipped"})
            continue
        reply_x, reply_y = replies[x][question.id]["reply"], replies[y][question.id]["reply"]
        answers = []
        for order, (a, b) in (("x_first", (reply_x, reply_y)), ("y_first", (reply_y, reply_x))):
            answer = run.ask(pairwise_messages(question.text, a, b),
                             {"kind": "pairwise", "question_id": question.id, "order": order,
                              "A": x if order == "x_first" else y, "B": y if order == "x_first" else x})
            verdict = parse_pairwise(answer) if answer is not None else None
            run.raw[-1]["parsed"] = verdict
            answers.append(verdict)
        verdicts.append({"question_id": question.id, "x_first": answers[0], "y_first": answers[1],
                         "result": combine_orders(*answers)})
    return verdicts
