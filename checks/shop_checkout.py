"""Browser journey through the demo shop: log in, search, add to cart, check out.

Runs offline against `python -m prober.demo` (`./dev run` starts it); agent.yaml passes base_url and the
password (from ${DEMO_SHOP_PASSWORD:-demo}, so it is treated as a secret and redacted from artifacts).
"""

from playwright.async_api import expect

from prober.journey import Journey, journey


@journey
async def checkout(j: Journey) -> None:
    base = j.params["base_url"]
    async with j.step("open shop"):
        await j.page.goto(base)
        await expect(j.page.locator("h1")).to_have_text("Demo Shop")
    async with j.step("log in"):
        await j.page.click("text=Log in")
        await j.page.fill("#username", j.params["username"])
        await j.page.fill("#password", j.params["password"])
        await j.page.click("#login")
        await expect(j.page.locator("#user")).to_contain_text(j.params["username"])
    async with j.step("search"):
        await j.page.fill("#q", "tea")
        await j.page.click("#go")
        await expect(j.page.locator("#results .result")).to_have_count(2)
    async with j.step("add to cart"):
        await j.page.click("#results .result a >> nth=0")
        await j.page.click("#add")
        await expect(j.page.locator("#items tr")).to_have_count(1)
    async with j.step("check out"):
        await j.page.click("#buy")
        await expect(j.page.locator("#msg")).to_have_text("Thanks for your order")
