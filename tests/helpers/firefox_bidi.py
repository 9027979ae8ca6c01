"""A small WebDriver BiDi driver for Debian's firefox-esr (no geckodriver, no Playwright build).

Firefox's built-in remote agent speaks WebDriver BiDi over a websocket: we start it
headless with ``--remote-debugging-port`` and a fresh profile whose prefs give it a fake
camera and microphone and stop it from calling out anywhere, then send JSON commands
with ids and await the replies::

    async with Firefox.launch() as ff:
        ctx = await ff.new_tab()
        await ff.navigate(ctx, "http://127.0.0.1:8080/room")
        await ff.click(ctx, "join")
        await ff.wait_for(ctx, "() => window.antechamber.state.me")

Page scripts run through ``script.callFunction``; values cross as JSON (the function's
result is ``JSON.stringify``-ed in the page, parsed here). Console errors and uncaught
exceptions (``log.entryAdded``) are collected in ``Firefox.errors``.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import socket
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

FIREFOX = "/usr/bin/firefox-esr"

# Prefs of the throwaway profile: fake media, no permission prompts, loopback ICE, and
# nothing that phones home (updates, telemetry, safe browsing, captive portal, ...).
PREFS: dict[str, Any] = {
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    "media.peerconnection.ice.default_address_only": False,
    "media.peerconnection.ice.no_host": False,
    "media.peerconnection.use_document_iceservers": True,
    "media.peerconnection.identity.enabled": False,
    "app.update.enabled": False,
    "app.update.auto": False,
    "app.update.checkInstallTime": False,
    "app.normandy.enabled": False,
    "app.normandy.api_url": "",
    "app.shield.optoutstudies.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage": "about:blank",
    "browser.startup.page": 0,
    "browser.newtabpage.enabled": False,
    "browser.newtabpage.activity-stream.feeds.system.topstories": False,
    "browser.newtabpage.activity-stream.feeds.snippets": False,
    "browser.newtabpage.activity-stream.default.sites": "",
    "browser.aboutwelcome.enabled": False,
    "browser.search.update": False,
    "browser.search.geoip.url": "",
    "browser.region.network.url": "",
    "browser.region.update.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.downloads.remote.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.provider.google.updateURL": "",
    "browser.safebrowsing.provider.google4.updateURL": "",
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "browser.ping-centre.telemetry": False,
    "browser.tabs.warnOnClose": False,
    "browser.sessionstore.resume_from_crash": False,
    "browser.contentblocking.report.lockwise.enabled": False,
    "browser.discovery.enabled": False,
    "browser.topsites.contile.enabled": False,
    "browser.urlbar.suggest.quicksuggest.sponsored": False,
    "browser.urlbar.quicksuggest.enabled": False,
    "captivedetect.canonicalURL": "",
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "dom.push.enabled": False,
    "dom.push.connection.enabled": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.blocklist.enabled": False,
    "extensions.systemAddon.update.enabled": False,
    "geo.provider.network.url": "",
    "media.gmp-manager.url": "",
    "media.gmp-gmpopenh264.enabled": False,
    "media.gmp-widevinecdm.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.http.speculative-parallel-limit": 0,
    "network.prefetch-next": False,
    "network.trr.mode": 5,
    "privacy.trackingprotection.enabled": False,
    "remote.active-protocols": 1,  # WebDriver BiDi only
    "security.OCSP.enabled": 0,
    "security.remote_settings.crlite_filters.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/",
    "services.sync.enabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.archive.enabled": False,
    "toolkit.telemetry.server": "",
    "toolkit.coverage.endpoint.base": "",
    "toolkit.startup.max_resumed_crashes": -1,
}


class BiDiError(Exception):
    def __init__(self, method: str, reply: dict[str, Any]):
        super().__init__(f"{method}: {reply.get('error')}: {reply.get('message')}")
        self.reply = reply


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _user_js(prefs: dict[str, Any]) -> str:
    return "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())


class Firefox:
    """One headless firefox-esr process and its BiDi session."""

    def __init__(self, proc: asyncio.subprocess.Process, profile: Path, http: aiohttp.ClientSession,
                 ws: aiohttp.ClientWebSocketResponse, log: list[str]):
        self.proc = proc
        self.profile = profile
        self.http = http
        self.ws = ws
        self.log = log               # the browser's own stderr lines
        self.errors: list[str] = []  # page console errors and uncaught exceptions
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    # --- lifecycle ------------------------------------------------------------------------

    @classmethod
    async def launch(cls, *, binary: str = FIREFOX, prefs: dict[str, Any] | None = None,
                     timeout: float = 60.0) -> "Firefox":
        profile = Path(tempfile.mkdtemp(prefix="antechamber-firefox-"))
        (profile / "user.js").write_text(_user_js({**PREFS, **(prefs or {})}))
        port = _free_port()
        env = dict(os.environ, MOZ_HEADLESS="1", MOZ_CRASHREPORTER_DISABLE="1",
                   MOZ_DISABLE_AUTO_SAFE_MODE="1", MOZ_REMOTE_SETTINGS_DEVTOOLS="1")
        proc = await asyncio.create_subprocess_exec(
            binary, "--headless", "--no-remote", "--new-instance", "--profile", str(profile),
            "--remote-debugging-port", str(port), "--remote-allow-hosts", "127.0.0.1",
            "about:blank",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True)
        log: list[str] = []
        listening = asyncio.get_running_loop().create_future()

        async def pump() -> None:  # keep reading stderr for the whole life of the process
            assert proc.stderr is not None
            async for raw in proc.stderr:
                line = raw.decode(errors="replace").rstrip()
                log.append(line)
                if "WebDriver BiDi listening on" in line and not listening.done():
                    listening.set_result(line)
            if not listening.done():
                listening.set_exception(RuntimeError("firefox exited before listening:\n" + "\n".join(log[-30:])))

        pump_task = asyncio.get_running_loop().create_task(pump())
        http = aiohttp.ClientSession()
        try:
            await asyncio.wait_for(asyncio.shield(listening), timeout)
            ws = await http.ws_connect(f"ws://127.0.0.1:{port}/session", max_msg_size=0,
                                       timeout=aiohttp.ClientWSTimeout(ws_close=5))
        except BaseException:
            await http.close()
            _kill_group(proc)
            await proc.wait()
            pump_task.cancel()
            shutil.rmtree(profile, ignore_errors=True)
            raise
        ff = cls(proc, profile, http, ws, log)
        ff._pump = pump_task
        try:
            await ff.send("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": True}}})
            await ff.send("session.subscribe", {"events": ["log.entryAdded"]})
        except BaseException:
            await ff.close()
            raise
        return ff

    async def __aenter__(self) -> "Firefox":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Ask the browser to close; kill its whole process group if it does not exit in time."""
        if not self.ws.closed:
            try:
                await self.send("browser.close", {}, timeout=5)
            except (BiDiError, ConnectionError, asyncio.TimeoutError):
                pass
            await self.ws.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except asyncio.TimeoutError:
            pass
        _kill_group(self.proc)  # content processes too, even when the parent exited
        if self.proc.returncode is None:
            await self.proc.wait()
        self._reader.cancel()
        await asyncio.gather(self._reader, self._pump, return_exceptions=True)
        await self.http.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    # --- protocol -------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                if data.get("type") == "event":
                    self._on_event(data)
                    continue
                fut = self._pending.pop(data.get("id"), None)
                if fut is not None and not fut.done():
                    fut.set_result(data)
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("the BiDi connection closed"))
            self._pending.clear()

    def _on_event(self, data: dict[str, Any]) -> None:
        self.events.append(data)
        if data.get("method") == "log.entryAdded":
            entry = data.get("params", {})
            if entry.get("level") == "error":
                self.errors.append(f"{entry.get('type')}: {entry.get('text')}")

    async def send(self, method: str, params: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        cid = next(self._ids)
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[cid] = fut
        await self.ws.send_str(json.dumps({"id": cid, "method": method, "params": params}))
        try:
            reply = await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(cid, None)
        if reply.get("type") == "error":
            raise BiDiError(method, reply)
        return reply.get("result", {})

    # --- browsing contexts ----------------------------------------------------------------

    async def new_tab(self, width: int = 1280, height: int = 800) -> str:
        ctx = (await self.send("browsingContext.create", {"type": "tab"}))["context"]
        await self.send("browsingContext.setViewport",
                        {"context": ctx, "viewport": {"width": width, "height": height}})
        return ctx

    async def navigate(self, ctx: str, url: str) -> None:
        await self.send("browsingContext.navigate", {"context": ctx, "url": url, "wait": "complete"}, timeout=60)

    async def screenshot(self, ctx: str, path: Path) -> Path:
        data = (await self.send("browsingContext.captureScreenshot", {"context": ctx}))["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    # --- page scripts ---------------------------------------------------------------------

    async def call(self, ctx: str, function: str, *args: Any, timeout: float = 30.0) -> Any:
        """Run `function(...args)` (JS source; may be async) in the page; its JSON result."""
        wrapper = f"async (argsJson) => JSON.stringify(await ({function})(...JSON.parse(argsJson)))"
        result = await self.send("script.callFunction", {
            "functionDeclaration": wrapper, "awaitPromise": True, "target": {"context": ctx},
            "arguments": [{"type": "string", "value": json.dumps(list(args))}]}, timeout=timeout)
        if result.get("type") == "exception":
            details = result.get("exceptionDetails", {})
            raise AssertionError(f"page script failed: {details.get('text')}")
        value = result.get("result", {})
        return json.loads(value["value"]) if value.get("type") == "string" else None

    async def wait_for(self, ctx: str, function: str, *args: Any, timeout: float = 20.0,
                       what: str | None = None) -> Any:
        """Wait until `function(...args)` returns something truthy (checked in the page every
        100 ms, so one round trip); returns that value."""
        poller = f"""(...args) => new Promise((resolve) => {{
          const fn = ({function});
          const tick = async () => {{
            try {{ const v = await fn(...args); if (v) return resolve(v); }} catch (e) {{ /* not yet */ }}
            setTimeout(tick, 100);
          }};
          tick();
        }})"""
        try:
            return await self.call(ctx, poller, *args, timeout=timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or function}; "
                                 f"page errors: {self.errors[-5:]}") from None

    async def click(self, ctx: str, testid: str, within: str | None = None) -> None:
        """Click the visible, enabled element with this data-testid (inside `within`, a CSS selector)."""
        await self.wait_for(ctx, """(testid, within) => {
          const root = within ? document.querySelector(within) : document;
          const el = root && root.querySelector(`[data-testid="${testid}"]`);
          if (!el || el.disabled || !el.checkVisibility()) return false;
          el.scrollIntoView({block: "center"});
          el.click();
          return true;
        }""", testid, within, what=f"{testid} to be clickable")

    async def press(self, ctx: str, selector: str) -> None:
        """A real pointer click (BiDi input actions) on the element matching a CSS selector:
        unlike ``click`` it carries user activation, which e.g. getDisplayMedia requires."""
        await self.wait_for(ctx, """(sel) => {
          const el = document.querySelector(sel);
          if (!el || el.disabled || !el.checkVisibility()) return false;
          el.scrollIntoView({block: "center"});
          return true;
        }""", selector, what=f"{selector} to be visible")
        result = await self.send("script.callFunction", {
            "functionDeclaration": "(sel) => document.querySelector(sel)", "awaitPromise": False,
            "target": {"context": ctx}, "arguments": [{"type": "string", "value": selector}]})
        node = result.get("result", {})
        if node.get("type") != "node":
            raise AssertionError(f"no element matches {selector}")
        origin = {"type": "element", "element": {"sharedId": node["sharedId"]}}
        await self.send("input.performActions", {"context": ctx, "actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [{"type": "pointerMove", "x": 0, "y": 0, "origin": origin},
                        {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}]})

    async def fill(self, ctx: str, testid: str, value: str) -> None:
        """Type a value into the input with this data-testid (sets it and fires input/change)."""
        await self.wait_for(ctx, """(testid, value) => {
          const el = document.querySelector(`[data-testid="${testid}"]`);
          if (!el || el.disabled) return false;
          el.focus();
          el.value = value;
          el.dispatchEvent(new Event("input", {bubbles: true}));
          el.dispatchEvent(new Event("change", {bubbles: true}));
          return true;
        }""", testid, value, what=f"{testid} to be fillable")


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
