"""``python -m chalicelib.local.fake_replicate``: serve the fake Replicate on loopback until Ctrl-C and print the
``export SLEEVE_REPLICATE_…`` lines that point Sleeve at it (also written to ``--env-file``, to ``source`` before
``make run``). Predictions advance one step per poll and every ``--seconds-per-step`` seconds, so webhooks come
without polling."""

from __future__ import annotations

import argparse
import contextlib
import logging
import shlex
import threading
from pathlib import Path

from chalicelib.local.fake_replicate.fake import FakeReplicate
from chalicelib.local.fake_replicate.server import FakeReplicateServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``--host`` (127.0.0.1), ``--port`` (8098; 0 = a free one), ``--seconds-per-step`` (0.5), ``--env-file``."""
    parser = argparse.ArgumentParser(prog="python -m chalicelib.local.fake_replicate", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8098, help="port (default 8098; 0 picks a free one)")
    parser.add_argument(
        "--seconds-per-step", type=float, default=0.5, help="starting → processing → done, one step per this (s)"
    )
    parser.add_argument("--env-file", type=Path, help="also write the export lines to this file")
    return parser.parse_args(argv)


def export_lines(env: dict[str, str]) -> str:
    """``export NAME=value`` lines, shell-quoted."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())


def main(argv: list[str] | None = None, *, stop: threading.Event | None = None) -> int:
    """Serve until Ctrl-C (or until ``stop`` is set, in tests)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    fake = FakeReplicate(seconds_per_step=args.seconds_per_step)
    with FakeReplicateServer(fake, host=args.host, port=args.port) as server:
        lines = export_lines(fake.settings_env(server.url))
        if args.env_file is not None:
            args.env_file.parent.mkdir(parents=True, exist_ok=True)
            args.env_file.write_text(lines)
            args.env_file.chmod(0o600)  # it holds the fake's (throw-away) token and webhook secret
        print(f"# the fake Replicate serves {fake.model} at {server.url}/v1", flush=True)
        print(lines, end="", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            (stop or threading.Event()).wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
