"""examples/dashboard in headless Chromium: the live chart, and the worker through Redis."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import sys
import uuid
from types import ModuleType

import pytest
from conftest import ARTIFACTS, EXAMPLES, NewPage, keep_screenshot

from nestpy import NestApplication

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

#: Faster than the example's one second, so the test sees several updates quickly.
INTERVAL = 0.2


def load_dashboard() -> ModuleType:
    name = "_example_dashboard_app"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / "dashboard" / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


async def samples(page: object) -> int:
    return int(await page.locator("#chart").get_attribute("data-samples"))  # type: ignore[attr-defined]


async def test_the_chart_updates_from_the_background_task(new_page: NewPage) -> None:
    from playwright.async_api import expect

    app: NestApplication = await load_dashboard().create_app(interval=INTERVAL)
    await app.listen(0, "127.0.0.1")
    try:
        page = await new_page(app.get_url())
        await expect(page.locator("#status")).to_have_text("online")
        await page.wait_for_function(
            "document.getElementById('chart').dataset.samples >= 3"
        )
        before_count = await samples(page)
        before = await page.evaluate("document.getElementById('chart').toDataURL()")
        await page.wait_for_function(
            f"document.getElementById('chart').dataset.samples > {before_count}"
        )
        after = await page.evaluate("document.getElementById('chart').toDataURL()")
        assert after != before, "the canvas was not redrawn with the new sample"
        await expect(page.locator("#cpu")).to_have_text(re.compile(r"^\d+\.\d %$"))
        await expect(page.locator("#clients")).to_have_text("1")

        # a second page starts with the history the gateway kept, then both get updates
        second = await new_page(app.get_url())
        await second.wait_for_function(
            f"document.getElementById('chart').dataset.samples >= {before_count + 1}"
        )
        await expect(page.locator("#clients")).to_have_text("2")

    finally:
        await app.close()
    # the background task stopped with the application
    gateway = app.get(load_dashboard().DashboardGateway)
    assert gateway._task is not None and gateway._task.done()


@pytest.mark.redis
async def test_the_worker_publishes_through_redis_into_the_page(new_page: NewPage) -> None:
    from playwright.async_api import expect

    channel = f"nestpy-dashboard-test-{uuid.uuid4().hex}"
    redis = "redis://127.0.0.1:6379/0"
    app: NestApplication = await load_dashboard().create_app(
        interval=INTERVAL, redis=redis, channel=channel
    )
    await app.listen(0, "127.0.0.1")
    try:
        page = await new_page(app.get_url())
        await expect(page.locator("#status")).to_have_text("online")
        worker = await asyncio.create_subprocess_exec(
            sys.executable, str(EXAMPLES / "dashboard" / "worker.py"),
            "--redis", redis, "--channel", channel, "--count", "3", "--every", "0.05",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(worker.communicate(), timeout=30)
        assert worker.returncode == 0, err.decode()
        assert out.decode().splitlines() == [f"published job {n}" for n in (1, 2, 3)]
        jobs = page.locator("#jobs li.job")
        await expect(jobs).to_have_count(3)
        await expect(jobs.first).to_contain_text("#3 ")
        await expect(jobs.last).to_contain_text("#1 ")
        # the metrics keep flowing through the adapter as well
        count = await samples(page)
        await page.wait_for_function(
            f"document.getElementById('chart').dataset.samples > {count}"
        )
        # the example's picture: let the chart fill a little
        await page.wait_for_function("document.getElementById('chart').dataset.samples >= 15")
        shot = ARTIFACTS / "dashboard-screenshot.png"
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(shot))
        keep_screenshot(shot, "dashboard")
    finally:
        await app.close()
