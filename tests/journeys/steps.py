"""Test journeys on the demo shop: green, a failing hard step, a failing soft step."""

from playwright.async_api import expect

from prober.journey import Journey, journey


@journey
async def green(j: Journey) -> None:
    async with j.step("open shop"):
        await j.page.goto(j.params["base_url"])
    async with j.step("search"):
        await j.page.fill("#q", "espresso")
        await j.page.click("#go")
        await expect(j.page.locator("#results .result")).to_have_count(1)
    async with j.step("type"):
        await j.page.click("#q")
        await j.page.keyboard.type("xy")


@journey
async def hard_failure(j: Journey) -> None:
    async with j.step("open shop"):
        await j.page.goto(j.params["base_url"])
    async with j.step("find the unicorn"):
        await expect(j.page.locator("h1")).to_have_text("Unicorn Shop", timeout=500)
    async with j.step("never reached"):
        await j.page.click("#buy")


@journey
async def soft_failure(j: Journey) -> None:
    async with j.step("open shop"):
        await j.page.goto(j.params["base_url"])
    async with j.step("optional banner", soft=True):
        await expect(j.page.locator("#banner")).to_be_visible(timeout=300)
    async with j.step("still runs"):
        await expect(j.page.locator("h1")).to_have_text("Demo Shop")


@journey
async def outside_steps(j: Journey) -> None:
    async with j.step("fine"):
        pass
    raise KeyError("not in a step")


@journey
async def secret_in_failure(j: Journey) -> None:
    async with j.step("log in"):
        await j.page.goto(j.params["base_url"] + "/login")
        await j.page.fill("#username", "demo")
        await j.page.fill("#password", j.params["password"])
        print(f"the password is {j.params['password']}")
        await j.page.evaluate("p => console.log('typed ' + p)", j.params["password"])
        await expect(j.page.locator("h1")).to_have_text(j.params["password"], timeout=300)
