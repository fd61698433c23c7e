"""`python -m chalicelib.local` (= `make run`): the whole Sleeve stack on loopback until Ctrl-C.

Ports come from PORT (API, default 8000) and MOTO_PORT (moto, default 5000), or --api-port / --moto-port (0 = free).
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from chalicelib.local.provision import ProvisionError
from chalicelib.local.stack import Stack, StackError, start_stack

log = logging.getLogger("chalicelib.local")


def _port(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; every default can also come from the environment (PORT, MOTO_PORT, LOG_LEVEL)."""
    parser = argparse.ArgumentParser(prog="python -m chalicelib.local", description=__doc__)
    parser.add_argument("--api-port", type=int, default=_port("PORT", 8000), help="API port (env PORT, default 8000)")
    parser.add_argument(
        "--moto-port", type=int, default=_port("MOTO_PORT", 5000), help="moto port (env MOTO_PORT, default 5000)"
    )
    parser.add_argument("--stage", default="local", help="Chalice stage whose environment_variables are used")
    parser.add_argument(
        "--retry-delay", type=int, default=1, help="seconds a failed SQS message stays invisible (AWS: 360)"
    )
    parser.add_argument(
        "--schedule-scale", type=float, default=1.0, help="multiply rate() schedule periods (0.01: 1 minute → 0.6 s)"
    )
    parser.add_argument("--ready-file", type=Path, help="write the URLs as JSON to this file once ready")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"), help="env LOG_LEVEL")
    return parser.parse_args(argv)


def _configure_logging(level: str) -> None:
    # Line-buffered so that a supervising process (tests, a terminal multiplexer) sees each line as it happens.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stdout,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # Chatter at INFO that says nothing about Sleeve: botocore's credential lookups, PynamoDB's settings file.
    for noisy in ("botocore", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _print_banner(stack: Stack) -> None:
    resources = stack.resources
    lines = [
        "",
        "Sleeve local stack is ready",
        f"  API      {stack.api_url}        curl {stack.api_url}/health",
        f"  moto     {stack.moto_url}        aws --endpoint-url {stack.moto_url} s3 ls",
        f"  bucket   {resources['bucket_name']}",
        f"  table    {resources['table_name']}",
        f"  queues   {', '.join(resources['queue_urls'])}",
    ]
    lines += [f"  worker   {line}" for line in stack.pump.sources] or ["  worker   (no event handlers in app.py)"]
    lines += [f"  upscaler {upscaler_line()}"]
    lines += [
        f'  token    make token USER=alice    then: curl -H "Authorization: Bearer $TOKEN" {stack.api_url}/releases',
        "Ctrl-C stops everything (state lives in memory and is gone after).",
        "",
    ]
    print("\n".join(lines), flush=True)


def upscaler_line() -> str:
    """What new enhancement jobs run on (``enhancement_policy.choose_provider`` over the stack's settings), and why
    the local Real-ESRGAN is off when it is. Its availability is checked once here (a subprocess, about a second) and
    cached with the container's upscalers for the jobs."""
    from chalicelib.config import get_settings
    from chalicelib.container import get_upscalers
    from chalicelib.services.enhancement_policy import choose_provider, webhook_url

    settings = get_settings()
    upscalers = get_upscalers()
    chosen = choose_provider(settings, upscalers)
    if chosen == "replicate":
        hook = webhook_url(settings, "…")
        return f"replicate at {settings.replicate_api_url}, webhooks to {hook or 'none (the poller completes jobs)'}"
    reason = upscalers["local"].unavailable_reason()
    if chosen == "local":
        return "local Real-ESRGAN x4plus on the CPU" + (f", but it is OFF: {reason}" if reason else "")
    why = f" (the local Real-ESRGAN is off: {reason})" if reason else ""
    return f"{chosen}: plain resampling, recorded as not AI{why}"


def _write_ready_file(path: Path, stack: Stack) -> None:
    payload = {
        "pid": os.getpid(),
        "api_url": stack.api_url,
        "moto_url": stack.moto_url,
        "bucket_name": stack.resources["bucket_name"],
        "table_name": stack.resources["table_name"],
        "queue_urls": stack.resources["queue_urls"],
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(payload), encoding="utf-8")
    # Atomic rename: a reader polling for the file never sees half of it.
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    """Run the stack until SIGINT/SIGTERM; 0 on a clean stop, 2 when it cannot start (port taken, bad config)."""
    args = parse_args(argv)
    _configure_logging(args.log_level)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            # A second Ctrl-C while a handler is still finishing: leave now.
            log.warning("second %s: exiting without waiting", signal.Signals(signum).name)
            os._exit(130)
        log.info("%s received: stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    try:
        stack = start_stack(
            api_port=args.api_port,
            moto_port=args.moto_port,
            stage=args.stage,
            retry_delay_s=args.retry_delay,
            schedule_time_scale=args.schedule_scale,
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            log.error(
                "a port is already in use (%s): set PORT / MOTO_PORT, e.g. `PORT=8001 MOTO_PORT=5001 make run`", exc
            )
            return 2
        raise
    except (StackError, ProvisionError) as exc:
        log.error("cannot start the local stack: %s", exc)
        return 2

    try:
        _print_banner(stack)
        if args.ready_file is not None:
            _write_ready_file(args.ready_file, stack)
        # Event.wait with a timeout so that the signal handler runs promptly on every platform.
        while not stopping.wait(0.5):
            pass
    finally:
        stack.stop()
    return 0


def _exit_now(code: int) -> None:
    """Leave at once once the stack has stopped: a handler the pump gave up waiting for (a local upscale, an ingest
    whose imaging pool still holds work) runs in a daemon thread against a moto that is gone, and interpreter shutdown
    would wait for the imaging pool's threads; the local upscaler's worker process group is killed first."""
    from chalicelib.container import reset_container

    reset_container()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit_now(main())
