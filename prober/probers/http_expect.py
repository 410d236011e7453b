"""Check an HTTP answer against a check's `expect` block; the first unmet expectation names the reason."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from prober.config.jsonpath import MISSING, lookup, parse_path
from prober.config.models import HttpExpect
from prober.http.tls_chain import soonest_expiry_problem
from prober.result import Failure, Reason, TlsOutcome


def check_body(expect: HttpExpect, headers: Mapping[str, str], body: bytes) -> Failure | None:
    """The first failed expectation on headers and body, as (reason, detail), or None when all hold."""
    for name, pattern in expect.headers.items():
        value = headers.get(name)
        if value is None:
            return Reason.ASSERTION, f"header {name} missing"
        if not pattern.search(value):
            return Reason.ASSERTION, f"header {name} does not match {pattern.pattern!r}"
    if not (expect.body_contains or expect.body_not_contains or expect.body_regex or expect.body_not_regex
            or expect.json_):
        return None
    text = body.decode("utf-8", errors="replace")
    for needle in expect.body_contains:
        if needle not in text:
            return Reason.ASSERTION, f"body does not contain {needle!r}"
    for needle in expect.body_not_contains:
        if needle in text:
            return Reason.ASSERTION, f"body contains {needle!r}"
    for pattern in expect.body_regex:
        if not pattern.search(text):
            return Reason.ASSERTION, f"body does not match {pattern.pattern!r}"
    for pattern in expect.body_not_regex:
        if pattern.search(text):
            return Reason.ASSERTION, f"body matches {pattern.pattern!r}"
    if expect.json_:
        return _check_json(expect.json_, text)
    return None


def _check_json(wanted: Mapping[str, object], text: str) -> Failure | None:
    try:
        document = json.loads(text)
    except ValueError as exc:
        return Reason.ASSERTION, f"body is not JSON: {exc}"
    for path, value in wanted.items():
        found = lookup(document, parse_path(path))
        if found is MISSING:
            return Reason.ASSERTION, f"JSON {path} not found"
        if found != value or isinstance(found, bool) != isinstance(value, bool):  # 1 == True in Python
            return Reason.ASSERTION, f"JSON {path} is {_short(found)}, expected {_short(value)}"
    return None


def check_certificate(expect: HttpExpect, tls: TlsOutcome | None) -> Failure | None:
    """Fail when a certificate of the chain the server sent (or the client certificate, with mTLS) expires sooner
    than `cert_min_days` from now; the detail names the one that expires soonest."""
    if tls is None:
        return None
    problem = soonest_expiry_problem(tls.chain, tls.client_cert_not_after, expect.cert_min_days, time.time())
    return (Reason.ASSERTION, problem) if problem is not None else None


def _short(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
