"""The local stack in a child process (`python -m chalicelib.local`), for callers that must not share its environment.

End-to-end tests use this: the stack sets ``os.environ`` and moto keeps global state, so running it inside a pytest
worker that also runs ``moto.mock_aws`` tests would let the two interfere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from chalicelib.local.environment import PROJECT_DIR, StackError


class StackProcess:
    """A running ``python -m chalicelib.local`` child. ``api_url``, ``moto_url``, ``bucket_name``, ``table_name``,
    ``queue_urls`` (name → URL) come from its ready file; ``log_path`` holds its stdout and stderr."""

    def __init__(self, process: subprocess.Popen[bytes], ready: Mapping[str, Any], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self.api_url: str = ready["api_url"]
        self.moto_url: str = ready["moto_url"]
        self.bucket_name: str = ready["bucket_name"]
        self.table_name: str = ready["table_name"]
        self.queue_urls: dict[str, str] = dict(ready["queue_urls"])

    def log_tail(self, max_chars: int = 4000) -> str:
        """The last ``max_chars`` characters of the child's output (for failure messages)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-max_chars:]
        except OSError:
            return ""

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM the child (a clean stop: API, pump, moto), SIGKILL it after ``timeout_s``; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def __enter__(self) -> StackProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def spawn_stack(
    *,
    api_port: int = 0,
    moto_port: int = 0,
    project_dir: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    retry_delay_s: int = 1,
    schedule_time_scale: float = 1.0,
    startup_timeout_s: float = 60.0,
    log_path: str | Path | None = None,
) -> StackProcess:
    """Start ``python -m chalicelib.local`` in ``project_dir`` (default: this checkout) and wait until it is ready.

    Ports: 0 = free ports chosen by the child (no race between choosing and binding). ``env``: the child's whole
    environment (default: this process's). Raises :class:`~chalicelib.local.environment.StackError`, with the end of the
    child's log, when it exits or is not ready within ``startup_timeout_s`` seconds.
    """
    root = Path(project_dir).resolve() if project_dir is not None else PROJECT_DIR
    workdir = Path(tempfile.mkdtemp(prefix="sleeve-stack-"))
    ready_file = workdir / "ready.json"
    log_file = Path(log_path) if log_path is not None else workdir / "stack.log"
    command = [
        sys.executable,
        "-m",
        "chalicelib.local",
        f"--api-port={api_port}",
        f"--moto-port={moto_port}",
        f"--retry-delay={retry_delay_s}",
        f"--schedule-scale={schedule_time_scale}",
        f"--ready-file={ready_file}",
    ]
    with open(log_file, "wb") as output:
        # The child writes to a file, not a pipe: nobody has to drain it, and it survives for post-mortems.
        process = subprocess.Popen(
            command, cwd=root, env=dict(env if env is not None else os.environ), stdout=output, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + startup_timeout_s
    while not ready_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
                process.wait()
            tail = log_file.read_text(encoding="utf-8", errors="replace")[-4000:]
            raise StackError(f"local stack did not start (exit {process.returncode}); log {log_file}:\n{tail}")
        time.sleep(0.05)
    return StackProcess(process, json.loads(ready_file.read_text(encoding="utf-8")), log_file)
