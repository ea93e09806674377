"""``python -m forecastscale.dashboards [DIR]``: regenerate the Grafana dashboards and provisioning files.

DIR defaults to ``deploy/grafana`` (run from the repository root). ``--check`` writes nothing and
exits 1 if any file there differs from what the code generates.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from forecastscale.dashboards import render, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m forecastscale.dashboards", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", type=Path, default=Path("deploy/grafana"))
    parser.add_argument("--check", action="store_true", help="exit 1 if the files differ from the generated ones")
    args = parser.parse_args(argv)
    if args.check:
        stale = [rel for rel, text in render().items()
                 if not (args.directory / rel).exists() or (args.directory / rel).read_text(encoding="utf-8") != text]
        for rel in stale:
            print(f"stale: {args.directory / rel}", file=sys.stderr)
        return 1 if stale else 0
    for path in write(args.directory):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
