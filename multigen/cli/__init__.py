"""The ``multigen`` command line: train, sample, encode, export, info, eval, train-classifier, write, invert,
fit-prior and calibrate-sliders.

``parser`` holds the arguments, ``commands`` what each subcommand does. Bad arguments or files end with
one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from multigen.cli import commands
from multigen.cli.parser import EXIT_USAGE, build_parser
from multigen.errors import MultigenError

__all__ = ["EXIT_USAGE", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return commands.COMMANDS[args.command](args)
    except MultigenError as error:
        sys.stderr.write(f"multigen: error: {error}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("multigen: interrupted\n")
        return 130
    except MemoryError:
        sys.stderr.write("multigen: error: this needs more memory than the machine has: ask for less\n")
        return EXIT_USAGE
    except Exception as error:  # one line for a person, the traceback on request (--debug)
        if args.debug:
            raise
        detail = " ".join(str(error).split())[:200]
        sys.stderr.write(f"multigen: error: {type(error).__name__}: {detail} (rerun with --debug for the traceback)\n")
        return 1
