"""``python -m chalicelib.local.fake_replicate``: serve the fake Replicate on loopback until Ctrl-C and print the
``export SLEEVE_REPLICATE_…`` lines that point Sleeve at it (also written to ``--env-file``, to ``source`` before
``make run``). Predictions advance one step per poll and every ``--seconds-per-step`` seconds, so webhooks come
without polling."""

from __future__ import annotations

import argparse
import threading

from chalicelib.local.fake_http import base_parser, serve_until_stopped
from chalicelib.local.fake_replicate.fake import FakeReplicate
from chalicelib.local.fake_replicate.server import FakeReplicateServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``--host`` (127.0.0.1), ``--port`` (8098; 0 = a free one), ``--seconds-per-step`` (0.5), ``--env-file``."""
    parser = base_parser("python -m chalicelib.local.fake_replicate", __doc__, port=8098)
    parser.add_argument(
        "--seconds-per-step", type=float, default=0.5, help="starting → processing → done, one step per this (s)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, *, stop: threading.Event | None = None) -> int:
    """Serve until Ctrl-C (or until ``stop`` is set, in tests)."""
    args = parse_args(argv)
    fake = FakeReplicate(seconds_per_step=args.seconds_per_step)
    return serve_until_stopped(
        FakeReplicateServer(fake, host=args.host, port=args.port),
        fake.settings_env,
        banner=lambda url: f"# the fake Replicate serves {fake.model} at {url}/v1",
        env_file=args.env_file,
        stop=stop,
    )


if __name__ == "__main__":
    raise SystemExit(main())
