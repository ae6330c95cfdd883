"""Entity accuracy on CoNLL-2003: the bare spaCy model against newsbeam's entity stage.

    python bench/ner.py [--model NAME] [--ablate] [--repeats N]

Scores entity-level exact-match precision, recall and F1 (conlleval semantics, micro-averaged),
overall and per type, on the CoNLL++ test documents and the original ones, with spaCy's labels
mapped to CoNLL's four (PERSON→PER, ORG→ORG, GPE/LOC/FAC→LOC, NORP/EVENT/PRODUCT/WORK_OF_ART/
LAW/LANGUAGE→MISC; the rest are not scored). "bare" is `doc.ents` as the model gives them;
"newsbeam" is the stage's mentions after its post-steps (`transforms/entity_fixes.py`), before
they are counted into canonical entities (which have no spans to score). Words per second are
for the same texts in this process (CPU time, which neighbours on a shared machine disturb less
than the wall clock): `nlp.pipe` alone, and with the stage's post-steps and naming.

--ablate also runs the stage without each post-step in turn: the CoNLL++ F1 it then gets, and
what changes in the seed articles' canonical entities (name/label/mentions gained and lost).
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
from pipeline.run import installed_ner_model  # noqa: E402
from transforms.entities import entity_mentions, load_ner  # noqa: E402
from transforms.entity_names import canonical_entities  # noqa: E402

FILES = {"CoNLL++": "conllpp_test.txt", "CoNLL-2003": "conll2003_test.txt"}


def bare_mentions(doc):
    return [(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]


def stage_mentions(doc):
    return entity_mentions(doc, doc.text)


def scores(documents, docs, mentions) -> dict:
    return score([d.gold for d in documents], [predicted(d, mentions(doc)) for d, doc in zip(documents, docs)])


def words_per_second(nlp, texts: list[str], words: int, repeats: int, batch_size: int) -> dict[str, float]:
    """The bare loop and the stage's per-article work over the same batches, alternating batch by
    batch so that a change in the machine's load falls on both alike; the stage's time is also
    split into the model's and what newsbeam adds after it (post-steps and naming)."""
    best = {"bare": float("inf"), "newsbeam": float("inf"), "added": float("inf")}
    for _ in range(repeats):
        total = dict.fromkeys(best, 0.0)
        for first in range(0, len(texts), batch_size):
            batch = texts[first:first + batch_size]
            started = time.process_time()
            for doc in nlp.pipe(batch, batch_size=batch_size):
                bare_mentions(doc)
            total["bare"] += time.process_time() - started
            started = time.process_time()
            docs = list(nlp.pipe(batch, batch_size=batch_size))
            tagged = time.process_time()
            for doc, text in zip(docs, batch):
                canonical_entities(entity_mentions(doc, text))
            total["added"] += time.process_time() - tagged
            total["newsbeam"] += time.process_time() - started
        best = {name: min(best[name], total[name]) for name in best}
    return {"bare": words / best["bare"], "newsbeam": words / best["newsbeam"],
            "added share": best["added"] / (best["newsbeam"] - best["added"])}


def table(results: dict[str, dict]) -> str:
    """Precision, recall and F1 per type, one column group per scored system."""
    names = list(results)
    lines = ["      " + "".join(f"{name:^22}" for name in names),
             "      " + "".join(f"{'P':>6}{'R':>7}{'F1':>7}  " for _ in names) + "  gold"]
    for kind in ("all", *TYPES):
        cells = "".join(f"{results[n][kind]['precision']:>6.3f}{results[n][kind]['recall']:>7.3f}"
                        f"{results[n][kind]['f1']:>7.3f}  " for n in names)
        lines.append(f"{kind:<6}{cells}{results[names[0]][kind]['gold']:>6}")
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
            print(ablation(nlp, documents, docs, results["newsbeam"]["all"]["f1"]) + "\n")
    documents = read_documents(CONLL / FILES["CoNLL++"])
    texts, words = [d.text for d in documents], sum(d.words for d in documents)
    speed = words_per_second(nlp, texts, words, args.repeats, settings.ner_batch_size)
    print(f"words/s over the CoNLL++ texts (CPU time, best of {args.repeats}): bare nlp.pipe {speed['bare']:.0f}, "
          f"newsbeam {speed['newsbeam']:.0f} ({speed['newsbeam'] / speed['bare']:.1%} of bare); the post-steps "
          f"and naming take {speed['added share']:.1%} of the model's own time")
    return 0


def ablation(nlp, documents, docs, full_f1: float) -> str:
    seeds = seed_docs(nlp)
    with_all = seed_entities(seeds)
    lines = ["Without each post-step: CoNLL++ overall F1 (with all of them: %.4f), and the seeds' entities"
             % full_f1]
    every = list(entity_fixes.FIXES)
    try:
        for fix in every:
            entity_fixes.FIXES[:] = [f for f in every if f is not fix]
            f1 = scores(documents, docs, stage_mentions)["all"]["f1"]
            lines.append(f"  without {fix.__name__:<27} {f1:.4f}  ({full_f1 - f1:+.4f} from it)")
            without = seed_entities(seeds)
            for seed in with_all:
                lost, gained = with_all[seed] - without[seed], without[seed] - with_all[seed]
                if lost or gained:
                    lines.append(f"      seed {seed}: with it {', '.join(sorted(lost)) or 'nothing'}; "
                                 f"without it {', '.join(sorted(gained)) or 'nothing'}")
    finally:
        entity_fixes.FIXES[:] = every
    return "\n".join(lines)


def seed_docs(nlp) -> dict[str, tuple]:
    """The seed articles' clean text (as the clean stage gives it for .txt files), tagged."""
    from pipeline.article import Article
    from transforms.extract_text import extract_plain_text

    seeds = sorted((Path(__file__).resolve().parents[1] / "seeds").glob("*.txt"))
    texts = [extract_plain_text(Article(id=p.name, source=str(p), raw=p.read_text())).text for p in seeds]
    return {p.name[:3]: (doc, text) for p, doc, text in zip(seeds, nlp.pipe(texts), texts)}


def seed_entities(seeds: dict[str, tuple]) -> dict[str, set[str]]:
    return {seed: {f"{e.name}/{e.label}/{e.mentions}" for e in canonical_entities(entity_mentions(doc, text))}
            for seed, (doc, text) in seeds.items()}


if __name__ == "__main__":
    sys.exit(main())
