"""``python -m deepgrad.playground [--host 127.0.0.1] [--port 8000] [--open]``."""

from __future__ import annotations

import argparse
import sys


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deepgrad.playground",
                                     description="Serve the deepgrad Playground in the browser.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    args = parser.parse_args(argv)
    try:
        from deepgrad.playground.server import main
    except ImportError as error:
        print(f"deepgrad playground: {error}", file=sys.stderr)
        return 1
    return main(host=args.host, port=args.port, open_browser=args.open)


if __name__ == "__main__":
    sys.exit(run())
