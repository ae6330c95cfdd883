"""newsbeam's benchmarks and evaluations (docs/perf.md lists them)."""

from pathlib import Path

# The third-party evaluation data (each folder's SOURCE.md says where it comes from). It sits beside
# CI's checkout of the repository; a user's fresh clone does not have it.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
