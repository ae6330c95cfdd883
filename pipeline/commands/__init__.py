"""The subcommands of `newsbeam`, one module each: HELP, DESCRIPTION, add_arguments(parser) and
main(args, extra_args) -> exit code. `pipeline.cli` lists them."""
