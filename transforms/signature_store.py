"""The signatures of kept articles, remembered across runs in `DIR/_state/dedupe/`, so that a copy
arriving in a later run is matched to the article an earlier run kept.

Each run writes the signatures of the articles it kept with the Parquet sink into its staging
folder, laid out as `_state/dedupe/`, so the run's commit (`pipeline.commit`) makes them visible
together with the rows they describe; a run that failed before its commit point leaves the state
as it was. After the commit, `expire_signatures` deletes the files that have passed the horizon
(`transforms.state_files`). Any Beam filesystem works (local, gs://, s3://). The files are
plain Parquet (`SIGNATURE_SCHEMA`), to inspect with DuckDB; each names in its metadata the MinHash
`algorithm` it was made with, and files of another algorithm are skipped, not compared.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone

import pyarrow as pa

from pipeline.options import Settings
from transforms import minhash
from transforms.signatures import SIGNATURE_SCHEMA, Signature, sign
from transforms.state_files import ReadStateFiles, WriteStateFiles, expire_files, state_folder

STAGE = "dedupe"
SIGNATURES = "dedupe"


def signature_folder(output: str) -> str:
    return state_folder(output, SIGNATURES)


def horizon_start(settings: Settings, now: datetime) -> datetime:
    """Articles kept before this are no longer remembered."""
    return now - timedelta(days=settings.dedupe_horizon_days)


def schema_for(settings: Settings):
    return SIGNATURE_SCHEMA.with_metadata({"algorithm": minhash.algorithm(settings)})


def write_signatures(root: str, run_id: str, settings: Settings) -> WriteStateFiles:
    """Kept articles to their signatures in `<root>/_state/dedupe/`, where `root` is the run's
    staging folder."""
    return WriteStateFiles(root, SIGNATURES, schema_for(settings), sign, run_id, settings)


def read_remembered_signatures(folder: str, settings: Settings, now: datetime) -> ReadStateFiles:
    """The committed signatures kept within the horizon before `now`, as `Signature`s of
    articles kept by an earlier run (`rank.fresh` False); files made with another MinHash
    algorithm are skipped."""
    return ReadStateFiles(folder, STAGE, horizon_start(settings, now), Signature.from_row,
                          refusal=functools.partial(other_algorithm, minhash.algorithm(settings)))


def other_algorithm(algorithm: str, table: pa.Table) -> str | None:
    """Why a signature file made with another algorithm than `algorithm` is skipped; None if it was not."""
    made_with = (table.schema.metadata or {}).get(b"algorithm", b"").decode()
    if made_with != algorithm:
        return f"was made with {made_with or 'an unknown algorithm'}, not {algorithm}: skipped"
    return None


def expire_signatures(folder: str, settings: Settings, now: datetime | None = None) -> list[str]:
    """Delete the committed signature files whose every article was kept before the horizon;
    returns their paths."""
    return expire_files(folder, horizon_start(settings, now or datetime.now(timezone.utc)))
