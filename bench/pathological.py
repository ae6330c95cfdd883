"""Time the clean stage and the NER model on the worst pages that pass newsbeam's limits.

    python bench/pathological.py [--ner]

Each page is built to be as costly as it can be while staying under `max_page_chars` and
`max_html_elements`; the figure is the time of one page through the clean stage (extraction,
the checks, language), which is what one worker spends on it. With --ner, the spaCy model is
timed on texts of `ner_max_chars`, including runs of symbols its tokenizer splits one by one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apache_beam.pvalue import TaggedOutput  # noqa: E402

from pipeline.article import Article  # noqa: E402
from pipeline.options import Settings  # noqa: E402
from transforms.clean import CleanFn  # noqa: E402
from transforms.entities import ner_text  # noqa: E402

SENTENCE = "The council voted on Tuesday to expand the harbour ferry service, adding two boats. "


def pages(s: Settings) -> dict[str, tuple[str, str]]:
    elements = s.max_html_elements - 10
    chars = s.max_page_chars - 1000
    prose = SENTENCE * (chars // len(SENTENCE))
    return {
        f"{elements:,} empty <span>s": ("html", "<html><body>" + "<span>a</span>" * elements + f"<p>{SENTENCE * 5}</p></body></html>"),
        f"{elements:,} <li> in one list": ("html", "<html><body><ul>" + "<li>item words here</li>" * elements + "</ul></body></html>"),
        f"{elements:,} links": ("html", "<html><body>" + "<a href='/x'>link text</a> " * elements + f"<p>{SENTENCE * 5}</p></body></html>"),
        f"{elements // 250:,} chains of 250 nested <div>s": ("html", "<html><body>" + ("<div>" * 250 + "x" + "</div>" * 250) * (elements // 250) + "</body></html>"),
        f"{chars / 1e6:.1f}M chars of prose in one <p>": ("html", f"<html><body><p>{prose}</p></body></html>"),
        f"{chars / 1e6:.1f}M chars of prose, 1 line": ("text", prose),
        f"{chars / 1e6:.1f}M chars of prose, short lines": ("text", prose.replace(". ", ".\n")),
        f"{chars / 1e6:.1f}M chars of '<'": ("html", "<" * chars),
        "regex traps, 50k chars each": ("text", "Trap\n\n" + SENTENCE * 10 + "\n\nWrite to me at " + "a@." * 16_000
                                        + "\n\nA photo. " + "A" * 50_000 + "!\n\n2:51" + " " * 50_000 + "x"),
    }


def time_clean(s: Settings) -> None:
    stage = CleanFn(s)
    stage.setup()
    print(f"{'page':42} {'MB':>6} {'seconds':>8}  outcome")
    for name, (format, raw) in pages(s).items():
        started = time.perf_counter()
        [output] = stage.process(Article(id=name, source=name, raw=raw, format=format))
        seconds = time.perf_counter() - started
        outcome = output.value.error if isinstance(output, TaggedOutput) else f"kept, {output.word_count:,} words"
        print(f"{name:42} {len(raw) / 1e6:6.1f} {seconds:8.2f}  {outcome[:70]}")


def time_ner(s: Settings) -> None:
    import spacy

    nlp = spacy.load(s.ner_fallback_model, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])
    prose = "Vladimir Putin met Kim Jong Un in Vostochny on Wednesday, the Kremlin said in Moscow. "
    texts = {f"{s.ner_max_chars:,} chars of prose": prose * (s.ner_max_chars // len(prose))}
    for run in (2_000, 4_000, 8_000):
        texts[f"prose with a run of {run:,} '?'"] = prose * 20 + "?" * run
        texts[f"prose with a run of {run:,} emoji"] = prose * 20 + "\U0001f600" * run
    print(f"\n{'NER text':42} {'chars':>8} {'seconds':>8} {'as tagged':>8}")
    for name, text in texts.items():
        started = time.perf_counter()
        nlp(text[: s.ner_max_chars])
        raw_seconds = time.perf_counter() - started
        started = time.perf_counter()
        nlp(ner_text(text, s))
        print(f"{name:42} {len(text):8,} {raw_seconds:8.2f} {time.perf_counter() - started:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ner", action="store_true", help="also time the NER model")
    args = parser.parse_args()
    settings = Settings()
    time_clean(settings)
    if args.ner:
        time_ner(settings)


if __name__ == "__main__":
    main()
