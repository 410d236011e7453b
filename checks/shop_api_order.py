"""API journey through the demo shop: log in for a token, add to cart, place an order, read it back.

No browser: the script never touches `j.page`, so the worker starts none for it.
"""

from prober.journey import Journey, journey


@journey
async def api_order(j: Journey) -> None:
    base = j.params["base_url"]
    async with j.step("log in"):
        login = await j.http.post(f"{base}/api/login",
                                  json={"username": j.params["username"], "password": j.params["password"]})
        login.raise_for_status()
        auth = {"Authorization": f"Bearer {login.json()['token']}"}
    async with j.step("add to cart"):
        cart = await j.http.post(f"{base}/api/cart", json={"product_id": 3, "qty": 2}, headers=auth)
        assert cart.raise_for_status().json()["total"] == 18.0, cart.text()
    async with j.step("place order"):
        order = (await j.http.post(f"{base}/api/checkout", headers=auth)).raise_for_status().json()
        assert order["status"] == "ordered", order
    async with j.step("read it back"):
        again = (await j.http.get(f"{base}/api/orders/{order['order_id']}", headers=auth)).raise_for_status()
        assert again.json()["items"][0]["qty"] == 2, again.text()
