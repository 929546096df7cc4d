"""Answer latency over the sample corpus: time to first token, generation, verification, total.

    python scripts/bench_ask.py [--generator local|openai|extractive] [--model packaged:NAME]

Ingests corpus/ into bench-data/ask, asks the first question once to warm up the models, then each
question timed. Prints one JSON line: medians and maxima per stage, prompt size, verdict counts,
the questions not answered (and of those, the ones whose draft was withdrawn), and each answer.
The questions are about the sample article; it does not answer the last two (one on its topic, one
off it). Other documents and questions:

    python scripts/bench_ask.py --documents ../shared/eval/docs --questions scripts/eval_docs_questions.txt
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter
from pathlib import Path

from evaldata import REPO, scratch_settings

from assistant import offline
from assistant.backends import Backends
from assistant.pipeline import ask, ingest_paths

QUESTIONS = [
    "How many Tajik migrants work in Russia?",
    "What does the article say happened at Crocus City Hall?",
    "Why are Tajiks in the crosshairs, according to the article?",
    "What does the article claim about remittances to Tajikistan?",
    "What currency does Tajikistan use?",  # on the article's topic, but it does not say
    "What is the boiling point of liquid nitrogen?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", default=None)
    parser.add_argument("--model", default=None, help="GGUF setting for the local generator.")
    parser.add_argument("--documents", type=Path, help="A folder or file to ask about instead of corpus/.")
    parser.add_argument("--questions", type=Path, help="Questions, one per line, instead of the built-in ones.")
    args = parser.parse_args()
    offline()
    documents = args.documents or REPO / "corpus"
    if not documents.exists():
        raise SystemExit(f"{documents} does not exist (the evaluation documents are read from ../shared/eval/docs)")
    questions = QUESTIONS if args.questions is None else _questions(args.questions)
    generation = {"model": args.model} if args.model else {}
    store = "ask" if args.documents is None else f"ask-{documents.name}"
    backends = Backends(scratch_settings(store, generation=generation))
    ingest_paths([documents], backends)
    ask(questions[0], backends, generator=args.generator)  # warm-up: loads the models
    answers = [ask(question, backends, generator=args.generator) for question in questions]
    timings = [answer.timings for answer in answers]
    stages = ("retrieval", "first_token", "generation", "verification", "total")
    result = {
        "generator": answers[0].generator,
        "model": answers[0].model,
        "questions": len(answers),
        **{
            f"{stage}_s": _spread([getattr(t, stage) for t in timings if getattr(t, stage) is not None])
            for stage in stages
        },
        "judge_s_per_sentence": _spread(
            [c.judgement.seconds for a in answers for c in a.claims if c.judgement and c.judgement.judge != "verbatim"]
        ),
        "prompt_chars": _spread([_prompt_chars(backends, a) for a in answers if a.sources]),
        "verdicts": Counter(c.verdict for a in answers for c in a.claims),
        "sources_found_by_checker": sum(c.cited_by == "checker" for a in answers for c in a.claims),
        "not_found": [a.question for a in answers if not a.answered],
        "withdrawn": [a.question for a in answers if a.draft is not None],  # a draft no source supports
        "answers": [
            {"question": a.question, "written": a.draft or a.text, "verdicts": [c.verdict for c in a.claims]}
            for a in answers
        ],
    }
    print(json.dumps(result))


def _questions(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": round(statistics.median(values), 2), "max": round(max(values), 2)}


def _prompt_chars(backends: Backends, answer) -> int:
    generator = backends.generator(answer.generator)
    if not hasattr(generator, "messages"):
        return 0
    return sum(len(m["content"]) for m in generator.messages(answer.question, answer.sources))


if __name__ == "__main__":
    main()
