"""Entity accuracy on CoNLL-2003: the bare spaCy model against newsbeam's entity stage.

    python bench/ner.py [--model NAME] [--ablate] [--repeats N]

Scores entity-level exact-match precision, recall and F1 (conlleval semantics, micro-averaged),
overall and per type, on the CoNLL++ test documents and the original ones, with spaCy's labels
mapped to CoNLL's four (PERSON→PER, ORG→ORG, GPE/LOC/FAC→LOC, NORP/EVENT/PRODUCT/WORK_OF_ART/
LAW/LANGUAGE→MISC; the rest are not scored). "bare" is `doc.ents` as the model gives them;
"newsbeam" is the stage's mentions after its post-steps (`transforms/entity_fixes.py`), before
they are counted into canonical entities (which have no spans to score). Words per second are
for the same texts in this process: `nlp.pipe` alone, and with the stage's post-steps and naming.
--ablate also scores the stage without each post-step in turn, to show what each one adds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.conll import CONLL, TYPES, predicted, read_documents, score  # noqa: E402
from pipeline.options import Settings  # noqa: E402
from transforms import entity_fixes  # noqa: E402
from transforms.entities import entity_mentions, installed_ner_model, load_ner  # noqa: E402
from transforms.entity_names import canonical_entities  # noqa: E402

FILES = {"CoNLL++": "conllpp_test.txt", "CoNLL-2003": "conll2003_test.txt"}


def bare_mentions(doc):
    return [(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]


def stage_mentions(doc):
    return entity_mentions(doc, doc.text)


def scores(documents, docs, mentions) -> dict:
    return score([d.gold for d in documents], [predicted(d, mentions(doc)) for d, doc in zip(documents, docs)])


def words_per_second(nlp, texts: list[str], words: int, repeats: int, batch_size: int) -> dict[str, float]:
    """Best of `repeats` interleaved runs of the bare loop and the stage's per-article work."""
    best = {"bare": float("inf"), "newsbeam": float("inf")}
    for _ in range(repeats):
        started = time.perf_counter()
        for doc in nlp.pipe(texts, batch_size=batch_size):
            bare_mentions(doc)
        best["bare"] = min(best["bare"], time.perf_counter() - started)
        started = time.perf_counter()
        for doc in nlp.pipe(texts, batch_size=batch_size):
            canonical_entities(entity_mentions(doc, doc.text))
        best["newsbeam"] = min(best["newsbeam"], time.perf_counter() - started)
    return {name: words / seconds for name, seconds in best.items()}


def table(results: dict[str, dict]) -> str:
    names = list(results)
    lines = [f"{'':6}" + "".join(f"{n:>28}" for n in names), f"{'':6}" + "".join(f"{'P     R     F1':>28}" for _ in names)]
    for kind in ("all", *TYPES):
        row = f"{kind:<6}"
        for name in names:
            s = results[name][kind]
            row += f"{s['precision']:>18.3f}{s['recall']:>6.3f}{s['f1']:>6.3f}"[2:].rjust(28)
        lines.append(row + f"   ({results[names[0]][kind]['gold']} gold)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=Settings().ner_model, help="spaCy model (default: the pipeline's)")
    parser.add_argument("--ablate", action="store_true", help="also score the stage without each post-step")
    parser.add_argument("--repeats", type=int, default=3, help="timing runs, the best is kept (default 3)")
    args = parser.parse_args()
    if not CONLL.exists():
        print(f"skipped: {CONLL} is absent (the evaluation data sits beside the repository in ../shared/data)")
        return 0
    settings = Settings(ner_model=args.model)
    model = installed_ner_model(settings)
    nlp = load_ner(model)
    print(f"model {model} {nlp.meta['version']}, components {nlp.pipe_names}\n")
    for title, file in FILES.items():
        documents = read_documents(CONLL / file)
        docs = list(nlp.pipe([d.text for d in documents], batch_size=settings.ner_batch_size))
        results = {"bare": scores(documents, docs, bare_mentions), "newsbeam": scores(documents, docs, stage_mentions)}
        print(f"{title}: {len(documents)} documents, {sum(d.words for d in documents)} words, "
              f"{sum(len(d.gold) for d in documents)} entities")
        print(table(results) + "\n")
        if args.ablate and title == "CoNLL++":
            print(ablation(documents, docs, results["newsbeam"]["all"]["f1"]) + "\n")
    documents = read_documents(CONLL / FILES["CoNLL++"])
    texts, words = [d.text for d in documents], sum(d.words for d in documents)
    speed = words_per_second(nlp, texts, words, args.repeats, settings.ner_batch_size)
    print(f"words/s over the CoNLL++ texts (best of {args.repeats}): bare nlp.pipe {speed['bare']:.0f}, "
          f"newsbeam mentions and names {speed['newsbeam']:.0f} ({speed['newsbeam'] / speed['bare']:.1%})")
    return 0


def ablation(documents, docs, full_f1: float) -> str:
    lines = ["CoNLL++ overall F1 without each post-step (all of them: %.4f)" % full_f1]
    every = list(entity_fixes.FIXES)
    try:
        for fix in every:
            entity_fixes.FIXES[:] = [f for f in every if f is not fix]
            f1 = scores(documents, docs, stage_mentions)["all"]["f1"]
            lines.append(f"  without {fix.__name__:<28} {f1:.4f}  ({full_f1 - f1:+.4f} from it)")
    finally:
        entity_fixes.FIXES[:] = every
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
