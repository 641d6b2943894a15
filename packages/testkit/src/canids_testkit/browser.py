"""A page as a person sees it: render an HTML file in headless Chromium, report what the
browser made of it (every image, every section) and take a full-page screenshot.

Chromium is driven through its DevTools protocol over a pipe (``--remote-debugging-pipe``:
JSON messages ended by a NUL byte on file descriptors 3 and 4), so nothing but the
standard library and Debian's ``chromium`` package is needed: no browser download, no
driver whose version must match the browser, no port that could collide.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BrowserError", "RenderedPage", "find_chromium", "render_page"]

# What the project's machines need (docs: a closed network, root in CI): no sandbox,
# no GPU, no background connections that the network would refuse.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)

# Waits for every image to decode, then lists images and sections.
_INSPECT = """(async () => {
  await Promise.all(Array.from(document.images).map(
    (img) => img.decode().catch(() => null)));
  return {
    title: document.title,
    height: document.documentElement.scrollHeight,
    images: Array.from(document.images).map((img) => ({
      alt: img.alt, complete: img.complete,
      naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight})),
    sections: Array.from(document.querySelectorAll("section")).map((s) => ({
      id: s.id, kind: s.className, name: s.dataset.name || "",
      title: (s.querySelector("h2") || {}).textContent || ""})),
  };
})()"""


class BrowserError(RuntimeError):
    """Chromium could not be started or did not answer."""


@dataclass(frozen=True)
class RenderedPage:
    title: str
    height: int
    images: list[dict[str, Any]]
    sections: list[dict[str, Any]]
    screenshot: Path
    console_errors: list[str] = field(default_factory=list)

    @property
    def broken_images(self) -> list[dict[str, Any]]:
        """Images that did not load: not complete, or no natural size."""
        return [
            i
            for i in self.images
            if not i["complete"] or not i["naturalWidth"] or not i["naturalHeight"]
        ]

    def sections_of(self, kind: str) -> list[dict[str, Any]]:
        return [s for s in self.sections if s["kind"] == kind]


def find_chromium() -> str | None:
    """``$CANIDS_CHROMIUM``, else Debian's ``chromium`` (or ``chromium-browser``) on PATH."""
    chosen = os.environ.get("CANIDS_CHROMIUM")
    if chosen:
        return chosen
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class _Pipe:
    """The DevTools protocol over Chromium's pipe: commands out, replies and events in."""

    def __init__(self, binary: str, profile: Path) -> None:
        cmd_read, self._out = os.pipe()
        self._in, res_write = os.pipe()

        def wire() -> None:  # in the child: the pipe ends become fds 3 and 4
            high_read = fcntl.fcntl(cmd_read, fcntl.F_DUPFD, 10)
            high_write = fcntl.fcntl(res_write, fcntl.F_DUPFD, 10)
            os.dup2(high_read, 3)
            os.dup2(high_write, 4)

        try:
            self.proc = subprocess.Popen(
                [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(3, 4),
                preexec_fn=wire,
            )
        except OSError as exc:
            for fd in (cmd_read, res_write, self._in, self._out):
                os.close(fd)
            raise BrowserError(
                f"cannot start {binary} ({exc.strerror}): install Debian's chromium "
                "(apt-get install chromium) or set CANIDS_CHROMIUM to a Chromium binary"
            ) from exc
        finally:
            if hasattr(self, "proc"):
                os.close(cmd_read)
                os.close(res_write)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        reply = self._wait(lambda m: m.get("id") == self._next, timeout, method)
        if "error" in reply:
            raise BrowserError(f"Chromium refused {method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str, timeout: float = 60.0) -> dict[str, Any]:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        return self._wait(lambda m: m.get("method") == method, timeout, method, keep=False)

    def _wait(self, match: Any, timeout: float, what: str, keep: bool = True) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if match(message):
                    return message
                if "method" in message:
                    self.events.append(message)
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                err = (
                    self.proc.stderr.read().decode(errors="replace")[-2000:]
                    if self.proc.poll() is not None and self.proc.stderr
                    else ""
                )
                raise BrowserError(
                    f"Chromium gave no answer to {what} within {timeout:g} s {err}".strip()
                )
            ready, _, _ = select.select([self._in], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise BrowserError(f"Chromium closed its pipe while waiting for {what}")
                self._buffer += chunk

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                # A browser that cannot close politely is killed below: nothing is lost.
                with contextlib.suppress(BrowserError, OSError):
                    self.send("Browser.close", timeout=10)
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        finally:
            for fd in (self._in, self._out):
                with contextlib.suppress(OSError):
                    os.close(fd)
            if self.proc.stderr is not None:
                self.proc.stderr.close()


def render_page(
    page: str | Path,
    screenshot: str | Path,
    *,
    width: int = 1280,
    max_height: int = 20000,
    chromium: str | None = None,
    timeout: float = 60.0,
) -> RenderedPage:
    """Open ``page`` (a local HTML file) in headless Chromium at ``width`` pixels, wait for
    it and its images, and write a PNG of the whole page (up to ``max_height``) to
    ``screenshot``. Raises :class:`BrowserError` when there is no Chromium."""
    binary = chromium or find_chromium()
    if binary is None:
        raise BrowserError(
            "no Chromium: install Debian's chromium (apt-get install chromium) or set "
            "CANIDS_CHROMIUM to a Chromium binary"
        )
    url = Path(page).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="canids-chromium-") as profile:
        pipe = _Pipe(binary, Path(profile))
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)
            session = pipe.send(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
            )["sessionId"]
            pipe.send("Page.enable", session=session)
            pipe.send("Runtime.enable", session=session)
            pipe.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            pipe.send("Page.navigate", {"url": url}, session=session)
            pipe.wait_event("Page.loadEventFired", timeout)
            found = pipe.send(
                "Runtime.evaluate",
                {"expression": _INSPECT, "awaitPromise": True, "returnByValue": True},
                session=session,
                timeout=timeout,
            )
            if "exceptionDetails" in found:
                raise BrowserError(f"inspecting {url} failed: {found['exceptionDetails']}")
            info = found["result"]["value"]
            height = min(int(info["height"]), max_height)
            pipe.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            shot = pipe.send(
                "Page.captureScreenshot",
                {"format": "png", "captureBeyondViewport": True},
                session=session,
                timeout=timeout,
            )
            errors = [
                str(e["params"].get("exceptionDetails", {}).get("text", ""))
                for e in pipe.events
                if e.get("method") == "Runtime.exceptionThrown"
            ]
        finally:
            pipe.close()
    out = Path(screenshot)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(shot["data"]))
    return RenderedPage(
        info["title"], int(info["height"]), info["images"], info["sections"], out, errors
    )
