"""How a stage turns a failure into a reject row instead of failing the run."""

from __future__ import annotations

from apache_beam import pvalue

from pipeline.article import Article, Reject
from pipeline.logs import LOG

REJECTS = "rejects"  # the tagged output every stage sends its rejects to


class InputError(ValueError):
    """A problem with the input itself; its message is the sentence a person reads in `rejects`."""


def reject(stage: str, error: BaseException | str, *, source: str, run_id: str,
           url: str | None = None, item: str | None = None) -> pvalue.TaggedOutput:
    """The tagged reject row for a failure; unexpected exceptions are logged with their traceback."""
    if isinstance(error, BaseException) and not isinstance(error, InputError):
        LOG.warning("%s failed on %s", stage, source, exc_info=error)
        error = f"unexpected {type(error).__name__} in the {stage} stage: {error}"
    row = Reject(source=source, stage=stage, error=str(error), run_id=run_id, url=url, item=item)
    return pvalue.TaggedOutput(REJECTS, row)


def reject_article(stage: str, error: BaseException | str, article: Article) -> pvalue.TaggedOutput:
    return reject(stage, error, source=article.source, run_id=article.run_id, url=article.url,
                  item=article.item or None)
