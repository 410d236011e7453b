"""The Demo Shop's state: its products and the bounded, in-memory store of sessions and their carts."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass, field

MAX_SESSIONS_DEFAULT = 10_000
MAX_QTY_PER_LINE = 99
MAX_SLOW_MS = 10_000
MAX_BODY_BYTES = 64 * 1024
SESSION_COOKIE = "shop_session"
USERNAME = "demo"
MAX_ORDERS_PER_SESSION = 20
PASSWORD_DEFAULT = "demo"


@dataclass(frozen=True)
class Product:
    """One item on sale; prices are kept in cents so totals add up exactly."""

    id: int
    name: str
    price_cents: int
    description: str


PRODUCTS: dict[int, Product] = {
    p.id: p
    for p in (
        Product(1, "绿茶 Green tea", 450, "Loose-leaf green tea, 100 g."),
        Product(2, "Espresso beans", 1290, "Dark roast, whole beans, 250 g."),
        Product(3, "Ceramic mug", 900, "Holds 300 ml; dishwasher safe."),
        Product(4, "Tea infuser", 625, "Stainless steel, fits any mug."),
    )
}


@dataclass
class Session:
    """A browser session or an API token: who logged in (if anyone) and their cart (product id -> qty)."""

    username: str | None = None
    cart: dict[int, int] = field(default_factory=dict)
    orders: OrderedDict[str, dict[str, object]] = field(default_factory=OrderedDict)  # the last MAX_ORDERS


class SessionStore:
    """Sessions by id, at most `max_sessions`; adding past the cap evicts the least recently used."""

    def __init__(self, max_sessions: int) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1 (got {max_sessions})")
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, session: Session) -> str:
        """Store `session` under a new unguessable id and return the id."""
        session_id = secrets.token_urlsafe(24)
        self._sessions[session_id] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return session_id

    def get(self, session_id: str | None) -> Session | None:
        """The session for `session_id`, marked as recently used; None if unknown or evicted."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is not None:
            self._sessions.move_to_end(session_id)
        return session

    def drop(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def cart_json(session: Session) -> dict[str, object]:
    items = [
        {"product_id": pid, "name": PRODUCTS[pid].name, "price": PRODUCTS[pid].price_cents / 100, "qty": qty}
        for pid, qty in session.cart.items()
    ]
    total = sum(PRODUCTS[pid].price_cents * qty for pid, qty in session.cart.items())
    return {"items": items, "total": total / 100}


def add_to_cart(session: Session, product_id: int, qty: int) -> None:
    session.cart[product_id] = min(session.cart.get(product_id, 0) + qty, MAX_QTY_PER_LINE)


def checkout(session: Session) -> str | None:
    """Place the order: empty the cart and return an order id, or None if the cart was empty."""
    if not session.cart:
        return None
    order_id = "ord-" + secrets.token_hex(6)
    session.orders[order_id] = {"order_id": order_id, "status": "ordered", **cart_json(session)}
    while len(session.orders) > MAX_ORDERS_PER_SESSION:
        session.orders.popitem(last=False)
    session.cart.clear()
    return order_id


def search(query: str) -> list[Product]:
    """Products whose name or description holds every word of `query` (case-insensitive)."""
    words = query.lower().split()[:8]
    return [p for p in PRODUCTS.values() if all(w in f"{p.name} {p.description}".lower() for w in words)]
