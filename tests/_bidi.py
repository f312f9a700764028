"""A headless Firefox driven over WebDriver BiDi, for the review page's browser test (no geckodriver needed).

Firefox ESR speaks BiDi itself: started with ``--remote-debugging-port`` it listens on
``ws://127.0.0.1:PORT/session``.  Debian ships no geckodriver and the tests download nothing, so this small
client (the ``websockets`` package, already installed with ``uvicorn[standard]``) sends the few commands the
test needs and keeps every event it subscribed to: console entries, network requests, opened dialogs.

Firefox runs with a fresh profile in a temporary directory and in its own process group; :meth:`Firefox.close`
ends the browser, then the whole group, and removes the profile.  The profile's prefs switch off the browser's
own background traffic (updates, telemetry, remote settings, safe browsing, captive-portal checks) and send any
request that is not to 127.0.0.1 to a closed local port, so a test never reaches the internet even when the
page under test would: the request still shows in ``network.beforeRequestSent``, where the test catches it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Iterator

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

__all__ = ["Firefox", "BidiError", "find_firefox", "processes_using"]

#: where Debian's ``firefox-esr`` package puts the browser (``firefox`` is a wrapper script around it)
CANDIDATES = ("firefox-esr", "firefox")


class BidiError(RuntimeError):
    """A BiDi command answered with an error, or the browser did not start or answer in time."""


def find_firefox() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prefs(dead_port: int) -> str:
    prefs: dict[str, Any] = {
        # every request off this machine goes to a closed port (localhost itself is never proxied)
        "network.proxy.type": 1, "network.proxy.http": "127.0.0.1", "network.proxy.http_port": dead_port,
        "network.proxy.ssl": "127.0.0.1", "network.proxy.ssl_port": dead_port,
        "network.proxy.socks": "127.0.0.1", "network.proxy.socks_port": dead_port,
        "network.proxy.socks_remote_dns": True, "network.proxy.no_proxies_on": "127.0.0.1",
        # the browser's own traffic, off
        "app.update.auto": False, "app.update.enabled": False, "app.normandy.enabled": False,
        "datareporting.policy.dataSubmissionEnabled": False, "datareporting.healthreport.uploadEnabled": False,
        "toolkit.telemetry.enabled": False, "toolkit.telemetry.unified": False,
        "browser.safebrowsing.malware.enabled": False, "browser.safebrowsing.phishing.enabled": False,
        "browser.safebrowsing.downloads.enabled": False, "browser.safebrowsing.update.enabled": False,
        "network.captive-portal-service.enabled": False, "network.connectivity-service.enabled": False,
        "captivedetect.canonicalURL": "", "services.settings.server": f"http://127.0.0.1:{dead_port}/",
        "messaging-system.rsexperimentloader.enabled": False, "extensions.update.enabled": False,
        "extensions.getAddons.cache.enabled": False, "media.gmp-manager.url": "", "browser.region.network.url": "",
        "browser.search.update": False, "browser.startup.homepage_override.mstone": "ignore",
        "browser.newtabpage.enabled": False, "browser.startup.page": 0, "network.dns.disablePrefetch": True,
        "network.prefetch-next": False, "network.http.speculative-parallel-limit": 0,
        "browser.shell.checkDefaultBrowser": False, "datareporting.policy.firstRunURL": "",
        "dom.disable_open_during_load": False, "browser.aboutwelcome.enabled": False,
    }
    return "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())


def _proc_table() -> Iterator[tuple[int, int, str, str]]:
    """(pid, process group, state, command line) of every live process, read from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, pgrp, ...
        yield int(entry.name), int(fields[2]), fields[0], cmdline


def processes_using(marker: str, group: int | None = None) -> list[int]:
    """Live (not zombie) processes whose command line mentions ``marker`` (the profile directory: only the
    main process names it) or that are in process ``group`` (the content processes are)."""
    return [pid for pid, pgrp, state, cmdline in _proc_table()
            if state != "Z" and (marker in cmdline or (group is not None and pgrp == group))]


class Firefox:
    """One headless Firefox with one BiDi session and one tab (``context``)."""

    def __init__(self, binary: str, width: int = 1280, height: int = 2000, start_timeout: float = 30.0) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="aigclabel-firefox-"))
        (self.profile / "user.js").write_text(_prefs(_free_port()), "utf-8")
        port = _free_port()
        self.events: list[dict[str, Any]] = []
        self._next = 0
        self._ws: ClientConnection | None = None
        self._stack = ExitStack()
        self.proc = subprocess.Popen(
            [binary, "--headless", "-no-remote", "-profile", str(self.profile), "--remote-debugging-port",
             str(port), f"--width={width}", f"--height={height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "MOZ_HEADLESS": "1"}, start_new_session=True)
        try:
            self._ws = self._connect(port, start_timeout)
            self.command("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": False,
                                                                          "unhandledPromptBehavior": "ignore"}}})
            tree = self.command("browsingContext.getTree", {"maxDepth": 0})
            self.context: str = tree["contexts"][0]["context"]
            self.command("session.subscribe", {"events": ["log.entryAdded", "network.beforeRequestSent",
                                                          "browsingContext.userPromptOpened"]})
        except BaseException:
            self.close()
            raise

    def _connect(self, port: int, timeout: float) -> ClientConnection:
        deadline = time.monotonic() + timeout
        while True:
            try:
                # entered as a context manager (websockets 17 warns otherwise); never through a proxy
                return self._stack.enter_context(connect(f"ws://127.0.0.1:{port}/session", max_size=None,
                                                         open_timeout=5, proxy=None))
            except (OSError, TimeoutError) as exc:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise BidiError(f"Firefox did not open its BiDi port ({exc})") from exc
                time.sleep(0.2)

    # ------------------------------------------------------------------------------------------ protocol

    def command(self, method: str, params: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        assert self._ws is not None
        self._next += 1
        ident = self._next
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BidiError(f"{method}: no answer in {timeout} s")
            try:
                message = json.loads(self._ws.recv(timeout=left))
            except TimeoutError:
                continue
            if message.get("type") == "event":
                self.events.append(message)
            elif message.get("id") == ident:
                if message.get("type") == "error":
                    raise BidiError(f"{method}: {message.get('error')}: {message.get('message')}")
                result: dict[str, Any] = message["result"]
                return result

    def pump(self) -> None:
        """Take in the events that arrived since the last command."""
        assert self._ws is not None
        while True:
            try:
                message = json.loads(self._ws.recv(timeout=0))
            except TimeoutError:
                return
            if message.get("type") == "event":
                self.events.append(message)

    def drain(self, method: str) -> list[dict[str, Any]]:
        """The params of every ``method`` event so far, removed from the kept list."""
        self.pump()
        taken = [e["params"] for e in self.events if e["method"] == method]
        self.events = [e for e in self.events if e["method"] != method]
        return taken

    # ------------------------------------------------------------------------------------------ page

    def navigate(self, url: str) -> None:
        self.command("browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"})

    def run(self, body: str, *args: Any) -> Any:
        """Run a function body in the page (``return ...`` as in Selenium's ``execute_script``; ``arguments``
        holds ``args``, JSON values), await it, and answer its result through JSON."""
        function = ("async (...raw) => JSON.stringify(await (async function () { " + body
                    + " }).apply(null, raw.map((r) => JSON.parse(r))) ?? null)")
        result = self.command("script.callFunction", {
            "functionDeclaration": function, "target": {"context": self.context}, "awaitPromise": True,
            "arguments": [{"type": "string", "value": json.dumps(a)} for a in args]})
        if result.get("type") == "exception":
            details = result["exceptionDetails"]
            raise BidiError(f"script threw: {details.get('text')}")
        return json.loads(result["result"]["value"])

    def element(self, css: str) -> dict[str, str]:
        """A reference to the first element matching ``css`` (for input.setFiles and pointer actions)."""
        result = self.command("script.evaluate", {"expression": f"document.querySelector({json.dumps(css)})",
                                                  "target": {"context": self.context}, "awaitPromise": False})
        value = result.get("result", {})
        if value.get("type") != "node":
            raise BidiError(f"no element {css!r}")
        return {"sharedId": value["sharedId"]}

    def set_files(self, css: str, paths: list[Path]) -> None:
        self.command("input.setFiles", {"context": self.context, "element": self.element(css),
                                        "files": [str(p) for p in paths]})

    def keys(self, text: str) -> None:
        """Type ``text`` into the focused element, one key down/up per character (\\ue007 is Enter, \\ue004 Tab)."""
        actions = []
        for ch in text:
            actions += [{"type": "keyDown", "value": ch}, {"type": "keyUp", "value": ch}]
        self.command("input.performActions", {"context": self.context, "actions": [
            {"type": "key", "id": "keyboard", "actions": actions}]})

    def wait(self, expression: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.run(f"return {expression}")
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {expression}")

    def screenshot(self) -> bytes:
        result = self.command("browsingContext.captureScreenshot", {"context": self.context, "origin": "document"})
        return base64.b64decode(result["data"])

    # ------------------------------------------------------------------------------------------ end

    def close(self) -> None:
        """End the session and the browser (politely, then its whole process group) and remove the profile."""
        if self._ws is not None:
            try:
                self.command("browser.close", {}, timeout=10)
            except (BidiError, ConnectionClosed, OSError):
                pass
            try:
                self._stack.close()
            except (ConnectionClosed, OSError):
                pass
            self._ws = None
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            pass
        try:  # the group this Popen started (start_new_session): Firefox's content processes too
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(15)
        deadline = time.monotonic() + 10  # the killed content processes are reaped by init, not at once
        while processes_using(str(self.profile), self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Firefox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
