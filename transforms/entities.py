"""Entities stage: spaCy named entities on the clean text, canonical names with counts.

Each worker loads the English model (`Settings.ner_model`, which `newsbeam run` resolves to the
installed one or its fallback) once, in `setup`, with only the components its entity recogniser
needs, and another language's model the first time an article in that language comes, if it is
installed (`Settings.ner_models_by_language`). An article in a language with no installed
model passes untagged, with the reason in its `meta`: it is never tagged with the English model.
A process keeps the models it loaded for its next run (`IdleModels`).
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import gc
import importlib.util
import json
import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.article import Article
from pipeline.options import Settings
from transforms.entity_fixes import corrected_mentions
from transforms.entity_names import Mention, canonical_entities
from transforms.progress import Progress
from transforms.rejects import REJECTS, reject_article
from transforms.stage_time import StageTime

STAGE = "entities"
SKIPPED = "entities_skipped"  # meta key: why an article has no entities tagged
TRUNCATED = "entities_truncated"  # meta key: how much of a long text was tagged
ENGLISH = "en"


class TagEntities(beam.PTransform):
    """Articles to articles with `entities` set, each by its language's model; rejects tagged."""

    def __init__(self, settings: Settings = Settings()):
        super().__init__()
        self.settings = settings

    def expand(self, articles):
        size = self.settings.ner_batch_size
        tagged = (
            articles
            | "Batch" >> beam.BatchElements(min_batch_size=size, max_batch_size=size)
            | "Tag" >> beam.ParDo(TagBatch(self.settings)).with_outputs(REJECTS, main="articles")
        )
        return tagged.articles, tagged.rejects


class TagBatch(beam.DoFn):
    def __init__(self, settings: Settings):
        self.settings = settings
        self.tagged = Metrics.counter(STAGE, "tagged")
        self.skipped = Metrics.counter(STAGE, "skipped")
        self.rejected = Metrics.counter(STAGE, "rejected")
        self.time = StageTime(STAGE)

    def setup(self):
        self.models = {ENGLISH: IDLE_MODELS.borrow(self.settings.ner_model)}
        self.progress = Progress(STAGE, self.settings.progress_seconds)
        freeze_everything_at_exit()

    def teardown(self):
        for model in self.models.values():
            if model is not None:
                IDLE_MODELS.give_back(model, self.settings.ner_max_new_strings)

    def process(self, batch: list[Article]) -> Iterator:
        with self.time.measure():  # the whole batch before yielding: fused steps run inside the yield
            outputs = []
            by_language: dict[str, list[Article]] = defaultdict(list)
            for article in batch:
                language = base_language(article.language)
                reason = self.missing_model(language)
                if reason:
                    self.skipped.inc()
                    outputs.append(with_meta(article, SKIPPED, reason))
                else:
                    by_language[language].append(article)
            for language, articles in by_language.items():
                outputs.extend(self.tag(self.models[language].nlp, articles))
        self.progress.update(articles=len(batch))
        yield from outputs

    def finish_bundle(self):
        self.time.report()

    def missing_model(self, language: str | None) -> str | None:
        """Why articles in this language cannot be tagged, or None when its model is loaded."""
        if language is None:
            return "the article's language is unknown"
        name = self.settings.ner_models_by_language.get(language)
        if language not in self.models:
            self.models[language] = IDLE_MODELS.borrow(name) if name and is_installed(name) else None
        if self.models[language] is None:
            missing = f" ({name} is not installed)" if name else ""
            return f"no spaCy model for language '{language}'{missing}"
        return None

    def tag(self, nlp, articles: list[Article]) -> Iterator:
        limit = self.settings.ner_max_chars
        texts = [ner_text(a.text, self.settings) for a in articles]
        try:
            docs = list(nlp.pipe(texts, batch_size=self.settings.ner_batch_size))
        except Exception:  # noqa: BLE001 - tag one by one so that one bad text rejects only itself
            docs = None
        for position, article in enumerate(articles):
            try:
                doc = docs[position] if docs is not None else nlp(texts[position])
                entities = canonical_entities(entity_mentions(doc, texts[position]))
                tagged = dataclasses.replace(article, entities=entities)
                if len(article.text) > limit:
                    tagged = with_meta(tagged, TRUNCATED, f"entities were tagged in the first {limit} of "
                                                          f"{len(article.text)} characters")
                self.tagged.inc()
                yield tagged
            except Exception as error:  # noqa: BLE001
                self.rejected.inc()
                yield reject_article(STAGE, error, article)


class LentModel(NamedTuple):
    name: str
    nlp: Any
    strings_at_load: int


class IdleModels:
    """The spaCy models this process has loaded and no DoFn is using, lent to one DoFn at a time.

    Beam makes new DoFns for every run, so without these a watcher's every tick (or any further
    run in one process) loaded English again: 1.0-1.4 s of CPU. spaCy keeps the text of every
    token it has seen in the model's string store, so a model that has added `max_new_strings`
    (a Settings value) is not kept: a long-running process loads afresh instead of growing.
    """

    def __init__(self):
        self.idle: dict[str, list[LentModel]] = defaultdict(list)
        self.lock = threading.Lock()

    def borrow(self, name: str) -> LentModel:
        with self.lock:
            if self.idle[name]:
                return self.idle[name].pop()
        nlp = load_ner(name)
        return LentModel(name, nlp, len(nlp.vocab.strings))

    def give_back(self, model: LentModel, max_new_strings: int) -> None:
        if len(model.nlp.vocab.strings) - model.strings_at_load < max_new_strings:
            with self.lock:
                self.idle[model.name].append(model)


IDLE_MODELS = IdleModels()


@functools.cache
def freeze_everything_at_exit() -> None:
    """Have this process, when it ends, freeze every object first, so that the interpreter's
    clean-up does not walk them for cycles.

    A process that tags holds Beam's, trafilatura's and spaCy's modules and a model, about
    160,000 objects: walking them took 0.7-0.8 s of each worker's exit (0.08 s frozen), and Beam
    stops its workers one after the other. Registered once a process.
    """
    atexit.register(gc.freeze)


def ner_text(text: str, settings: Settings) -> str:
    """The text as it is tagged: its first `ner_max_chars`, each space-free run longer than
    `ner_max_run_chars` broken by a space in place of every such run's last character (the
    offsets of the mentions stay those of the article's text)."""
    run = re.compile(r"(\S{%d})\S" % (settings.ner_max_run_chars - 1))
    return run.sub(r"\1 ", text[:settings.ner_max_chars])


def entity_mentions(doc, text: str) -> list[Mention]:
    """The entity mentions of `text` (tagged as `doc`) after newsbeam's corrections
    (`transforms.entity_fixes`)."""
    return [Mention(*mention) for mention in corrected_mentions(doc, text)]


def with_meta(article: Article, key: str, value: str) -> Article:
    return dataclasses.replace(article, meta={**article.meta, key: value})


def base_language(language: str | None) -> str | None:
    """'en-GB', 'en_US' and 'EN' are 'en'."""
    if not language:
        return None
    return language.replace("_", "-").split("-")[0].lower() or None


def installed_ner_models(settings: Settings) -> dict[str, dict[str, str]]:
    """The name and version of the model each language is tagged with, for the run manifest."""
    names = {**settings.ner_models_by_language, ENGLISH: settings.ner_model}
    models = {}
    for language, name in sorted(names.items()):
        if is_installed(name):
            meta = _model_meta(name)
            models[language] = {"name": name, "version": meta["version"], "spacy_version": meta.get("spacy_version", "")}
    return models


def is_installed(name: str) -> bool:
    """Whether `name` is an installed model package or a model folder. Asked of the installed
    distributions and the file system, as spaCy does, without importing spaCy: the driver of a
    multi-process or cluster run never tags anything, and importing spaCy costs it 0.5 s and 47 MB."""
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return (Path(name) / "config.cfg").exists()
    return True


def load_ner(name: str):
    """The spaCy model with only the components its entity recogniser needs."""
    import spacy

    config = spacy.util.load_config(_model_folder(name) / "config.cfg")
    if "ner" not in config["nlp"]["pipeline"]:
        raise ValueError(f"the spaCy model {name} has no entity recogniser ('ner')")
    return spacy.load(name, exclude=unneeded_components(config))


def unneeded_components(config) -> list[str]:
    """Every component but `ner` and the shared token-vector layer it listens to, if it does."""
    pipeline = config["nlp"]["pipeline"]
    encoder = config["components"]["ner"]["model"].get("tok2vec", {})
    needed = {"ner"}
    if "Listener" in encoder.get("@architectures", ""):
        upstream = encoder.get("upstream", "*")
        needed |= {upstream} if upstream != "*" else {
            c for c in pipeline if config["components"][c].get("factory") in ("tok2vec", "transformer")}
    return [c for c in pipeline if c not in needed]


def _model_folder(name: str) -> Path:
    """The folder with an installed model package's (or a model path's) config.cfg and meta.json,
    found without importing the package (which imports spaCy)."""
    if (Path(name) / "config.cfg").exists():
        return Path(name)
    package = Path(importlib.util.find_spec(name).submodule_search_locations[0])
    return next(package.glob("*/config.cfg")).parent


def _model_meta(name: str) -> dict:
    return json.loads((_model_folder(name) / "meta.json").read_text(encoding="utf-8"))
