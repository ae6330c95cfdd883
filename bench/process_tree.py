"""Peak memory and CPU time of a command and every process it starts, sampled from /proc (Linux).

`resource.getrusage(RUSAGE_CHILDREN)` gives the largest single process's peak, not the sum of
a process tree's resident memory at one moment, and misses workers that nobody waited for; Beam's
multi-processing mode runs its workers as such processes, so the tree is sampled instead.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Usage:
    wall_seconds: float
    cpu_seconds: float  # user + system of the whole tree
    busiest_cpu_seconds: float  # of the process that used the most: a bound on the wall time
    peak_rss_bytes: int  # the largest sum of the tree's resident memory at one sample
    returncode: int


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(parent pid, CPU seconds, resident bytes) of a live process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    # fields[0] is the state (field 3 of proc(5)); utime and stime are fields 14 and 15, rss 24
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS, int(fields[21]) * PAGE_BYTES


def _tree(root: int) -> dict[int, tuple[float, int]]:
    """{pid: (CPU seconds, resident bytes)} for `root` and all its descendants."""
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            found = _stat(int(name))
            if found:
                stats[int(name)] = found
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    tree, stack = {}, [root]
    while stack:
        pid = stack.pop()
        if pid in stats:
            tree[pid] = stats[pid][1:]
            stack.extend(children.get(pid, []))
    return tree


def run_measured(command: list[str], every_seconds: float = 0.2, **popen) -> Usage:
    """Run `command` to its end, sampling its process tree; CPU time of a process is its last
    sample (or, for the command itself and the children it waited for, wait4's exact figure)."""
    started = time.monotonic()
    process = subprocess.Popen(command, **popen)
    peak, cpu_by_pid = 0, {}
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            tree = _tree(process.pid)
            peak = max(peak, sum(rss for _, rss in tree.values()))
            for pid, (cpu, _) in tree.items():
                cpu_by_pid[pid] = cpu
            done.wait(every_seconds)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # wait4's figures are this command's and its waited-for descendants', whatever else this
    # process runs at the same time (bench/pipeline.py --paired runs two commands at once)
    _, status, rusage = os.wait4(process.pid, 0)
    process.returncode = returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    waited = rusage.ru_utime + rusage.ru_stime
    # wait4 covers the command and the descendants it waited for; sampled figures the rest
    sampled_others = sum(cpu for pid, cpu in cpu_by_pid.items() if pid != process.pid)
    cpu = max(waited, cpu_by_pid.get(process.pid, 0.0) + sampled_others)
    busiest = max(cpu_by_pid.values(), default=cpu)
    return Usage(time.monotonic() - started, cpu, busiest, peak, returncode)
