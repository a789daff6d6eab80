"""Write docs/cli.md, the reference of every ``landcover`` command, from the CLI's own argument parser.

usage: python tools/gen_cli_reference.py [--check]

``--check`` exits 1 when the committed page differs from what the parser says (the test suite runs it), so the
reference cannot drift from the code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from landcover_sdk.cli.main import build_parser

PAGE = Path(__file__).resolve().parents[1] / "docs" / "cli.md"

INTRO = """# Command-line reference

Every `landcover` command, its arguments and options, as `landcover COMMAND --help` prints them. This page is
generated from the CLI's own parser by `python tools/gen_cli_reference.py` (a test keeps it current). Every
command exits 0 on success, 1 with one line `landcover: error: ...` naming the file, band, field or coordinate at
fault, and 2 on a usage error. `-v` (more log output, `-vv` for debug) and `-q` (warnings and errors only) go
before the command: `landcover -q predict ...`.
"""


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices.items())
    return []


def _section(path: list[str], parser: argparse.ArgumentParser, level: int) -> list[str]:
    # a fixed width keeps the page identical on every terminal
    parser.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=100, max_help_position=32)
    parser.prog = " ".join(path)
    out = [f"{'#' * level} `{' '.join(path)}`", ""]
    if parser.description:
        out += [parser.description.strip(), ""]
    out += ["```text", parser.format_help().rstrip(), "```", ""]
    for name, child in _subcommands(parser):
        out += _section([*path, name], child, min(level + 1, 4))
    return out


def render() -> str:
    """The page's Markdown."""
    lines = [INTRO]
    for name, child in _subcommands(build_parser()):
        lines += _section(["landcover", name], child, 2)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/cli.md is not current")
    args = ap.parse_args()
    text = render()
    if args.check:
        if PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE} is out of date: run python tools/gen_cli_reference.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
