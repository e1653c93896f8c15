"""examples/dashboard in headless Chromium: the live chart, and the worker through Redis."""

from __future__ import annotations

import importlib.util
import re
import sys
import uuid
from collections.abc import AsyncIterator
from types import ModuleType

import pytest
import pytest_asyncio
from browser_helpers import ARTIFACTS, EXAMPLES, LOOP, NewPage, keep_screenshot

from nestpy import NestApplication

pytestmark = [pytest.mark.e2e, pytest.mark.browser, LOOP]

#: Faster than the example's one second, so the test sees several updates quickly.
INTERVAL = 0.2


def load_example(example: str, name: str = "app") -> ModuleType:
    mod_name = f"_example_{example}_{name}"
    if mod_name not in sys.modules:
        path = EXAMPLES / example / f"{name}.py"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        spec.loader.exec_module(module)
    return sys.modules[mod_name]


def load_dashboard() -> ModuleType:
    return load_example("dashboard")


async def samples(page: object) -> int:
    return int(await page.locator("#chart").get_attribute("data-samples"))  # type: ignore[attr-defined]


@pytest_asyncio.fixture(loop_scope="module")
async def dashboard() -> AsyncIterator[NestApplication]:
    """The dashboard example, embedded default (no broker), on an ephemeral port; closed
    after the pages (tests request it before ``new_page``)."""
    app: NestApplication = await load_dashboard().create_app(interval=INTERVAL)
    await app.listen(0, "127.0.0.1")
    yield app
    await app.close()
    # the background task stopped with the application
    task = app.get(load_dashboard().DashboardGateway)._task
    assert task is not None and task.done()


async def test_the_chart_updates_from_the_background_task(
    dashboard: NestApplication, new_page: NewPage
) -> None:
    from playwright.async_api import expect

    page = await new_page(dashboard.get_url())
    await expect(page.locator("#status")).to_have_text("online")
    await page.wait_for_function("document.getElementById('chart').dataset.samples >= 3")
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
    second = await new_page(dashboard.get_url())
    await second.wait_for_function(
        f"document.getElementById('chart').dataset.samples >= {before_count + 1}"
    )
    await expect(page.locator("#clients")).to_have_text("2")


@pytest.mark.redis
async def test_the_worker_publishes_through_redis_into_the_page(
    new_page: NewPage, capsys: pytest.CaptureFixture[str]
) -> None:
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
        # the worker's own code, in-process (a subprocess would only add its start-up time)
        worker = load_example("dashboard", "worker")
        await worker.publish(redis, channel, count=3, every=0.05)
        assert capsys.readouterr().out.splitlines() == [
            f"published job {n}" for n in (1, 2, 3)
        ]
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
        await page.wait_for_function("document.getElementById('chart').dataset.samples >= 12")
        shot = ARTIFACTS / "dashboard-screenshot.png"
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(shot))
        keep_screenshot(shot, "dashboard")
    finally:
        await app.close()
