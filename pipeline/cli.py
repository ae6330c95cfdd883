"""The `newsbeam` command: one clear line on error, the traceback only with --verbose."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import platform
import sys
from importlib import metadata

# Importing Beam's IO modules logs a warning about Google Cloud clients through the root logger,
# which would configure it with its default handler before configure_logging runs.
logging.getLogger().addHandler(logging.NullHandler())

from pipeline.commands import check, entities, query, report, run, search, state, stories, watch  # noqa: E402
from pipeline.logs import show_newsbeam_logs  # noqa: E402

DESCRIPTION = """\
newsbeam: news ingest on Apache Beam. It reads article files or feeds, strips boilerplate,
removes near-identical copies, tags named entities, classifies topics and writes Parquet
partitioned by topic. `newsbeam COMMAND --help` explains each command, with an example."""

COMMANDS = {"run": run, "watch": watch, "query": query, "stories": stories, "entities": entities,
            "search": search, "report": report, "check": check, "state": state}
# Commands that pass the flags they do not know on to Apache Beam.
PASSES_BEAM_FLAGS = {"run", "watch"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsbeam", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more, and show tracebacks")
    parser.add_argument("--version", action=PrintVersion,
                        help="show the versions of newsbeam, Apache Beam and Python, for a bug report")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        command = commands.add_parser(name, help=module.HELP, description=module.DESCRIPTION,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command)
    return parser


class PrintVersion(argparse.Action):
    """--version. The versions come from the installed packages' metadata (importing Beam would take
    a second), and only when asked: the first lookup takes about 70 ms, which every command would pay."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"newsbeam {metadata.version('newsbeam')} (Apache Beam {metadata.version('apache-beam')}, "
              f"Python {platform.python_version()})")
        parser.exit()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if next((word for word in argv if not word.startswith("-")), None) in PASSES_BEAM_FLAGS:
        argv = run.joined_beam_values(argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in PASSES_BEAM_FLAGS:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    configure_logging(args.verbose)
    try:
        return COMMANDS[args.command].main(args, extra)
    except KeyboardInterrupt:
        print("newsbeam: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped reading (`| head`): quiet, as Unix tools are. Stdout goes to devnull
        # so that the interpreter's final flush does not fail on the closed pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # noqa: BLE001 - one clear sentence, the traceback only with -v
        if args.verbose:
            raise
        print(f"newsbeam: error: {error}", file=sys.stderr)
        return 1


def console_main() -> None:
    """The `newsbeam` executable: `main`, then the process's exit.

    Every object still alive is frozen first, so that the interpreter's clean-up does not walk
    them for cycles: with Beam imported, that walk took 0.5-0.6 s of a run's exit (0.08 s frozen).
    """
    code = main()
    gc.freeze()
    sys.exit(code)


def configure_logging(verbose: bool) -> None:
    """newsbeam's own lines on stderr; other libraries' only with --verbose.

    Beam logs every bundle at INFO and warns, on the root logger, about optional Google Cloud
    clients it does not need: noise in a terminal.
    """
    show_newsbeam_logs(verbose)
    logging.basicConfig(level=logging.INFO if verbose else logging.CRITICAL, format="%(name)s: %(message)s",
                        force=True)


if __name__ == "__main__":
    console_main()
