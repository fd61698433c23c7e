"""Sleeve's command line: ``python -m chalicelib.cli <command> ...``; one argparse subcommand per job.

``variants FILE --out DIR`` runs the ingest imaging pipeline on a local file and writes what the worker would store;
``token USER [--groups admin]`` prints a bearer token for the ``local`` stage; ``backfill [--dry-run] [--limit N]
[--restart]`` fans the media library's legacy work out over SQS. Heavy imports (Pillow, tqdm) happen inside the
command that needs them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_REJECTED = 2
PROJECT_DIR = Path(__file__).resolve().parents[1]


def _setting_default(name: str) -> int:
    """A numeric setting as the worker reads it: ``SLEEVE_<NAME>`` from the environment, else Settings' default."""
    from chalicelib.config import Settings

    raw = os.environ.get(f"SLEEVE_{name.upper()}")
    return int(raw) if raw else int(Settings.model_fields[name].default)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; each subcommand sets ``handler``, a function ``(args) -> exit status``."""
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli", description="Sleeve command line tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    variants = commands.add_parser(
        "variants",
        help="run the imaging pipeline on a file and write the original and the WebP variants",
        description="Write DIR/original.<ext> and DIR/<variant>.webp and print the metadata as JSON on stdout. "
        'A refused image prints {"error": {...}} on stderr and exits 2.',
    )
    variants.add_argument("file", type=Path, help="image file (JPEG, PNG or WebP)")
    variants.add_argument("--out", type=Path, required=True, help="output directory (created if missing)")
    variants.add_argument("--max-pixels", type=int, default=None, help="bomb limit, px (default: SLEEVE_MAX_PIXELS)")
    variants.add_argument(
        "--original-max-px", type=int, default=None, help="original long-side cap, px (default: SLEEVE_ORIGINAL_MAX_PX)"
    )
    variants.add_argument(
        "--min-source-px", type=int, default=None, help="short-side minimum, px (default: SLEEVE_MIN_SOURCE_PX)"
    )
    variants.set_defaults(handler=run_variants)

    token = commands.add_parser(
        "token",
        help="print a bearer token for the local stage",
        description="Sign an HS256 token with SLEEVE_JWT_SECRET (from the environment, else the local stage of "
        ".chalice/config.json) whose subject is USER.",
    )
    token.add_argument("user", help="the subject: the owner id of everything created with the token")
    token.add_argument("--groups", default="", help="comma-separated groups, e.g. admin")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds (default 12 h)")
    token.set_defaults(handler=run_token)

    backfill = commands.add_parser(
        "backfill",
        help="fan the media library's legacy work out over the backfill queue",
        description="Scan the table (SLEEVE_* settings, the operator's AWS credentials) for releases with an "
        "artwork_url and assets made before the media library, and send one message per item to the backfill queue, "
        "saving the Scan's position after each page: a rerun resumes there, and a finished pass starts over. "
        "Prints a JSON summary on stdout (with --dry-run, first the messages it would send, one per line).",
    )
    backfill.add_argument("--dry-run", action="store_true", help="count and print; send and write nothing")
    backfill.add_argument(
        "--limit", type=_positive, default=None, help="stop after sending N messages (a rerun resumes after them)"
    )
    backfill.add_argument("--restart", action="store_true", help="ignore the checkpoint and start from the beginning")
    backfill.add_argument("--page-size", type=_positive, default=None, help="items per Scan page (default 200)")
    backfill.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    backfill.set_defaults(handler=run_backfill)
    return parser


def _positive(text: str) -> int:
    """An argparse type: a whole number above 0."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a whole number above 0")
    return value


def local_jwt_secret() -> str:
    """``SLEEVE_JWT_SECRET`` from the environment, else from the ``local`` stage of ``.chalice/config.json``.

    Raises ``KeyError`` when neither has it.
    """
    secret = os.environ.get("SLEEVE_JWT_SECRET")
    if secret:
        return secret
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text(encoding="utf-8"))
    return str(config["stages"]["local"]["environment_variables"]["SLEEVE_JWT_SECRET"])


def run_token(args: argparse.Namespace) -> int:
    """The ``token`` command: prints the token alone on stdout (exit 0)."""
    from chalicelib.auth import issue_local_token

    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    print(issue_local_token(subject=args.user, groups=groups, secret=local_jwt_secret(), ttl_s=args.ttl))
    return 0


def run_variants(args: argparse.Namespace) -> int:
    """The ``variants`` command. Exit status: 0 done, 2 image refused (``ImageRejectedError``), 1 file unreadable."""
    from chalicelib.errors import ImageRejectedError
    from chalicelib.imaging import process_image

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        result = process_image(
            data,
            max_pixels=args.max_pixels or _setting_default("max_pixels"),
            original_max_px=args.original_max_px or _setting_default("original_max_px"),
            min_source_px=args.min_source_px or _setting_default("min_source_px"),
        )
    except ImageRejectedError as exc:
        print(json.dumps(exc.to_body(), indent=2), file=sys.stderr)
        return EXIT_REJECTED
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / f"original.{result.original.extension}").write_bytes(result.original.data)
    for name, image in result.variants.items():
        (out / f"{name}.{image.extension}").write_bytes(image.data)
    print(json.dumps(result.metadata(), indent=2))
    return 0


def run_backfill(args: argparse.Namespace) -> int:
    """The ``backfill`` command (``services/backfill.py``). Exit status: 0 done (or stopped at ``--limit``), 1 when
    the queue refused a batch (the page is not checkpointed; a rerun sends it again)."""
    from tqdm import tqdm

    from chalicelib.container import get_backfill_service
    from chalicelib.services.backfill import DEFAULT_PAGE_SIZE, PageProgress
    from chalicelib.store.queues import QueueSendError

    service = get_backfill_service()
    total = None if args.no_progress else service.approximate_item_count()
    with tqdm(total=total, unit="item", desc="backfill", disable=args.no_progress, file=sys.stderr) as bar:
        sent = 0

        def on_page(page: PageProgress) -> None:
            nonlocal sent
            sent += page.sent
            bar.set_postfix(sent=sent, refresh=False)
            bar.update(page.scanned)

        try:
            report = service.run(
                dry_run=args.dry_run,
                limit=args.limit,
                restart=args.restart,
                page_size=args.page_size or DEFAULT_PAGE_SIZE,
                on_page=on_page,
            )
        except QueueSendError as exc:
            print(json.dumps(exc.to_body()), file=sys.stderr)
            return 1
    for message in report.messages:
        print(json.dumps(message, sort_keys=True))
    print(json.dumps(report.summary(), sort_keys=True))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the chosen command and return its exit status."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
