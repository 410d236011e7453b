"""Hostile journeys: each must cost one failed run and nothing else."""

import asyncio
import os
import time

from prober.journey import Journey, journey


@journey
async def blocks(j: Journey) -> None:
    async with j.step("sleep in async code"):
        time.sleep(3600)  # noqa: ASYNC251 - the point of this hostile script


@journey
async def busy(j: Journey) -> None:
    async with j.step("busy loop"):
        while True:
            try:  # noqa: SIM105 - a script that swallows what it can
                pass
            except Exception:  # a script that swallows what it can still cannot swallow the interruption
                pass


@journey
async def never_loads(j: Journey) -> None:
    async with j.step("open"):
        await j.page.goto(j.params["base_url"] + "/page/never-loads")


@journey
async def throws(j: Journey) -> None:
    async with j.step("open"):
        await j.page.goto(j.params["base_url"] + "/page/throws")
        await j.page.wait_for_timeout(300)


@journey
async def shifts(j: Journey) -> None:
    async with j.step("open"):
        await j.page.goto(j.params["base_url"] + "/page/shift")
        await j.page.wait_for_selector("body[data-shifted]")
        await j.page.wait_for_timeout(300)  # the shifted frame is painted and its entry reported


@journey
async def waits(j: Journey) -> None:
    async with j.step("open"):
        await j.page.goto(j.params["base_url"] + "/ok")
    async with j.step("wait"):
        await asyncio.sleep(float(j.params.get("wait_s", 5)))


@journey
async def exits(j: Journey) -> None:
    async with j.step("crash the interpreter"):
        os._exit(3)


@journey
async def refused(j: Journey) -> None:
    async with j.step("open"):
        await j.page.goto(j.params["closed_url"])


@journey
async def trivial(j: Journey) -> None:
    async with j.step("render"):
        await j.page.set_content("<h1>hi</h1>")


@journey
async def cjk(j: Journey) -> None:
    async with j.step("render Chinese"):
        await j.page.set_content('<span id="zh" style="font-size:40px">绿茶</span><br>'
                                 '<span id="tofu" style="font-size:40px">\ue000\ue001</span>')
        chinese = await j.page.locator("#zh").screenshot()
        missing = await j.page.locator("#tofu").screenshot()  # private-use code points: boxes in any font
        assert chinese != missing, "Chinese renders as boxes: no CJK font installed"
