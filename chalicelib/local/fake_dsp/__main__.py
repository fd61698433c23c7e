"""``python -m chalicelib.local.fake_dsp``: serve the fake DSP on loopback until Ctrl-C and print the ``export
SLEEVE_…`` lines that point Sleeve at it (also written to ``--env-file``, to ``source`` before ``make run``)."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from chalicelib.local.fake_dsp.catalogue import FakeCatalogue, FakeDsp
from chalicelib.local.fake_dsp.server import FakeDspServer
from chalicelib.local.fake_http import base_parser, serve_until_stopped

SAMPLE = Path(__file__).with_name("sample_catalogue.json")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``--host`` (127.0.0.1), ``--port`` (8099; 0 = a free one), ``--catalogue`` (the sample), ``--env-file``."""
    parser = base_parser("python -m chalicelib.local.fake_dsp", __doc__, port=8099)
    parser.add_argument("--catalogue", type=Path, default=SAMPLE, help="a FakeCatalogue JSON file (default: sample)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, *, stop: threading.Event | None = None) -> int:
    """Serve until Ctrl-C (or until ``stop`` is set, in tests)."""
    args = parse_args(argv)
    fake = FakeDsp(FakeCatalogue.model_validate_json(args.catalogue.read_bytes()))
    return serve_until_stopped(
        FakeDspServer(fake, host=args.host, port=args.port),
        fake.settings_env,
        banner=lambda url: f"# the fake DSP serves {len(fake.catalogue.albums)} albums at {url}",
        env_file=args.env_file,
        stop=stop,
    )


if __name__ == "__main__":
    raise SystemExit(main())
