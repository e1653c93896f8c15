"""examples/plain-ws in headless Chromium: the page's native ``WebSocket`` chats with a
Python client through the gateway (driven over the Chrome DevTools Protocol)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import tempfile
from typing import Any

import aiohttp
import pytest
from test_example import load

from nestpy import NestFactory

pytestmark = pytest.mark.e2e

CHROMIUM = next((p for n in ("chromium", "chromium-browser", "google-chrome")
                 if (p := shutil.which(n))), None)

PAGE_SCRIPT = """
(async () => {
  const until = async (ok) => {
    for (let i = 0; i < 500 && !ok(); i++) await new Promise(r => setTimeout(r, 10));
    if (!ok()) throw new Error("timeout: " + document.getElementById("log").innerText);
  };
  await until(() => window.wsReady);
  document.querySelector("#join [name=name]").value = "chrome";
  document.querySelector("#join button").click();
  await until(() => document.getElementById("log").innerText.includes("you are in lobby"));
  window.joined = true;
  document.querySelector("#say [name=text]").value = "from chrome";
  document.querySelector("#say button").click();
  await until(() => document.getElementById("log").innerText.includes("py: from python"));
  return document.getElementById("log").innerText;
})()
"""


class Cdp:
    """A minimal Chrome DevTools Protocol session over aiohttp's websocket client."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            fut = self.pending.pop(data.get("id", -1), None)
            if fut is not None and not fut.done():
                fut.set_result(data)

    async def send(self, method: str, session: str | None = None, **params: Any) -> Any:
        mid = next(self.ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[mid] = fut
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        await self.ws.send_str(json.dumps(msg))
        reply = await asyncio.wait_for(fut, 20)
        assert "error" not in reply, reply
        return reply["result"]


@pytest.mark.skipif(CHROMIUM is None, reason="needs a Chromium binary")
async def test_example_page_in_headless_chromium() -> None:
    assert CHROMIUM is not None
    ex = load()
    app = await NestFactory.create(ex.AppModule)
    app.http_app.router.add_get("/", ex.page)
    await app.listen(0, "127.0.0.1")
    base = app.get_url()
    with tempfile.TemporaryDirectory() as profile:
        proc = await asyncio.create_subprocess_exec(
            CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
            f"--user-data-dir={profile}", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stderr is not None
            devtools = None
            while devtools is None:
                line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
                assert line, "chromium exited before DevTools listened"
                if m := re.search(r"DevTools listening on (ws://\S+)", line):
                    devtools = m.group(1)
            async with aiohttp.ClientSession() as http:
                cdp = Cdp(await http.ws_connect(devtools, max_msg_size=0))
                target = await cdp.send("Target.createTarget", url=base + "/")
                session = (await cdp.send("Target.attachToTarget",
                                          targetId=target["targetId"], flatten=True))["sessionId"]
                for _ in range(500):  # until the page (not about:blank) has loaded
                    state = await cdp.send("Runtime.evaluate", session, returnByValue=True,
                                           expression="location.href + ' ' + document.readyState")
                    if state["result"]["value"] == f"{base}/ complete":
                        break
                    await asyncio.sleep(0.02)
                py = await http.ws_connect(base.replace("http", "ws") + "/ws")
                await py.send_str(json.dumps(
                    {"event": "join", "data": {"name": "py", "room": "lobby"}, "id": 1}))
                assert json.loads((await py.receive(timeout=5)).data)["id"] == 1
                run = asyncio.ensure_future(cdp.send(
                    "Runtime.evaluate", session, expression=PAGE_SCRIPT, awaitPromise=True,
                    returnByValue=True))
                # the page joins, says something; python hears it and answers
                while True:
                    frame = json.loads((await py.receive(timeout=10)).data)
                    if frame.get("event") == "said":
                        break
                assert frame["data"] == {"name": "chrome", "text": "from chrome"}
                await py.send_str(json.dumps({"event": "say", "data": {"text": "from python"}}))
                result = await run
                log = result["result"]["value"]
                assert "* you are in lobby" in log
                assert "chrome: from chrome" in log and "py: from python" in log
                await py.close()
                await cdp.ws.close()
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except asyncio.TimeoutError:
                    proc.kill()
                    await proc.wait()
            await app.close()
