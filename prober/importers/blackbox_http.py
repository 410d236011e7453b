"""blackbox_exporter's `http` probe options as a prober `type: http` check."""

from __future__ import annotations

import re

from prober.importers.check_draft import IP_OPTIONS, Handler, Mapping, client_tls, ip_family, map_options
from prober.importers.go_syntax import GoRegexError, base2_bytes, python_regex
from prober.importers.yaml_source import Node, WrongTypeError

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_MAX_BODY_BYTES = 1 << 30  # prober's bound on max_body_bytes
_STATUS = re.compile(r"[1-5][0-9][0-9]")
_HTTP_ONLY = "prober speaks HTTP/1.1"
_NO_EQUIVALENT = {
    "valid_http_versions": _HTTP_ONLY,
    "enable_http2": _HTTP_ONLY,
    "enable_http3": _HTTP_ONLY,
    "compression": "prober decompresses gzip and deflate answers itself",
    "fail_if_ssl": "",
    "fail_if_body_json_matches_cel": "expect.json compares values at JSON paths instead",
    "fail_if_body_json_not_matches_cel": "expect.json compares values at JSON paths instead",
    "oauth2": "",
    "no_proxy": "",
    "proxy_from_environment": "prober reads no environment at probe time: set proxy",
    "proxy_connect_header": "",
    "skip_resolve_phase_with_proxy": "",
}


def map_http(mapping: Mapping) -> None:
    """Fill the draft's http keys from the module's `http:` section and the target (a URL, `http://` added to a
    bare host as blackbox does)."""
    target = mapping.target.target
    url = target if target.lower().startswith(("http://", "https://")) else f"http://{target}"
    mapping.draft.put("url", url)
    if mapping.target.hostname:  # blackbox's `hostname` parameter: the Host header
        mapping.draft.put("headers", {"Host": mapping.target.hostname})
    map_options(mapping, _HANDLERS, _NO_EQUIVALENT, IP_OPTIONS)
    family = ip_family(mapping)
    if family is not None:
        mapping.draft.put("ip_family", family)


def _status_codes(mapping: Mapping, node: Node) -> None:
    codes = [str(element.integer()) for element in node.elements()]
    kept = [code for code in codes if _STATUS.fullmatch(code)]
    if len(kept) < len(codes):
        mapping.draft.comment(f"blackbox: valid_status_codes {sorted(set(codes) - set(kept))} left out: prober "
                              "accepts 100-599", "expect.status")
    if kept:  # an empty list is blackbox's default, 2xx, which is prober's too
        mapping.draft.put("expect.status", kept)


def _method(mapping: Mapping, node: Node) -> None:
    method = node.text().upper()
    if method in _METHODS:
        mapping.draft.put("method", method)
    else:
        mapping.draft.no_equivalent("method", f"prober sends one of {', '.join(sorted(_METHODS))}", node.value)
        mapping.draft.disable(f"{node.where}: method {node.text()!r} is not one prober sends")


def _headers(mapping: Mapping, node: Node) -> None:
    headers = _dict(mapping.draft.get("headers"))
    for name, value in node.entries():
        if name.lower() == "host" and mapping.target.hostname and value.text() != mapping.target.hostname:
            mapping.draft.disable(f"{value.where}: Host header set both here and by the hostname parameter "
                                  "(blackbox refuses the probe)")
        headers.setdefault(name, value.text())
    mapping.draft.put("headers", headers)


def _http_headers(mapping: Mapping, node: Node) -> None:
    """`http_headers: {Name: {values, secrets, files}}`: blackbox sends the last value given."""
    headers = _dict(mapping.draft.get("headers"))
    for name, spec in node.entries():
        values = [*spec.at("values").texts(), *spec.at("secrets").texts()]
        if spec.at("files").present:
            mapping.draft.no_equivalent(f"http_headers.{name}.files", "prober reads no files at probe time: "
                                        "put the value in headers, from '${VAR}'")
        if values:
            headers[name] = values[-1]
    mapping.draft.put("headers", headers)


def _body(mapping: Mapping, node: Node) -> None:
    mapping.draft.put("body", node.text())


def _body_file(mapping: Mapping, node: Node) -> None:
    """Read once, here: the body is written into the check (prober reads no file at probe time)."""
    path = mapping.file(node)
    try:
        with open(path, encoding="utf-8") as file:
            mapping.draft.put("body", file.read())
        mapping.draft.comment(f"blackbox: body_file {path}: its text is the body", "body")
    except (OSError, UnicodeDecodeError) as exc:
        mapping.draft.disable(f"{node.where}: cannot read {path}: {exc.__class__.__name__}")


def _body_size_limit(mapping: Mapping, node: Node) -> None:
    try:
        limit = base2_bytes(node.value)
    except ValueError as exc:
        raise WrongTypeError(str(exc)) from None
    if limit <= 0:
        mapping.draft.comment("blackbox: body_size_limit 0 (no limit): prober keeps its max_body_bytes default "
                              "(1MiB)", "max_body_bytes")
        return
    if limit > _MAX_BODY_BYTES:
        mapping.draft.comment(f"blackbox: body_size_limit {node.text()}: prober reads at most 1GiB",
                              "max_body_bytes")
    mapping.draft.put("max_body_bytes", min(limit, _MAX_BODY_BYTES))


def _follow_redirects(mapping: Mapping, node: Node) -> None:
    mapping.draft.put("follow_redirects", node.flag())


def _no_follow_redirects(mapping: Mapping, node: Node) -> None:
    mapping.draft.put("follow_redirects", not node.flag())  # blackbox's deprecated spelling


def _fail_if_not_ssl(mapping: Mapping, node: Node) -> None:
    if not node.flag():
        return
    url = str(mapping.draft.get("url"))
    why = ("the URL is https, so prober speaks TLS to it (a redirect to plain http is not caught)"
           if url.lower().startswith("https://") else
           "the URL is http: blackbox failed this probe unless a redirect led to https")
    mapping.draft.no_equivalent("fail_if_not_ssl", why)


def _body_not_regex(mapping: Mapping, node: Node) -> None:
    _append(mapping, "expect.body_not_regex", mapping.regexps(node, "fail_if_body_matches_regexp"))


def _body_regex(mapping: Mapping, node: Node) -> None:
    _append(mapping, "expect.body_regex", mapping.regexps(node, "fail_if_body_not_matches_regexp"))


def _header_conditions(mapping: Mapping, node: Node, key: str, negate: bool) -> None:
    """fail_if_header_not_matches: the header must be there with a value that matches (exactly expect.headers);
    fail_if_header_matches (`negate`): there and not matching, a negative lookahead. allow_missing cannot be."""
    for spec in node.elements():
        name, pattern = spec.at("header").text(), spec.at("regexp").text()
        if spec.at("allow_missing").present and spec.at("allow_missing").flag():
            mapping.draft.no_equivalent(f"{key} ({name})", "allow_missing: prober's expect.headers fails on a "
                                        "missing header")
            continue
        _header(mapping, spec, name, pattern, key, negate=negate)


def _header_matches(mapping: Mapping, node: Node) -> None:
    _header_conditions(mapping, node, "fail_if_header_matches", negate=True)


def _header_not_matches(mapping: Mapping, node: Node) -> None:
    _header_conditions(mapping, node, "fail_if_header_not_matches", negate=False)


def _header(mapping: Mapping, spec: Node, name: str, pattern: str, label: str, negate: bool = False) -> None:
    try:
        translated = python_regex(pattern)
    except GoRegexError as exc:
        mapping.draft.comment(f"blackbox: {label} ({name}) /{pattern}/ not carried over: {exc}")
        return
    headers = _dict(mapping.draft.get("expect.headers"))
    if any(key.lower() == name.lower() for key in headers):
        mapping.draft.no_equivalent(f"{label} ({name})", "a second expectation on the same header")
        return
    headers[name] = f"^(?!(?s:.*)(?:{translated}))" if negate else translated
    if negate:
        mapping.draft.comment(f"blackbox: {label} ({name}) /{pattern}/: the header must not match: a negative "
                              "lookahead", "expect.headers")
    mapping.draft.put("expect.headers", headers)


def _tls_config(mapping: Mapping, node: Node) -> None:
    tls = client_tls(mapping, node, "tls")
    if tls:
        mapping.draft.put("tls", tls)


def _basic_auth(mapping: Mapping, node: Node) -> None:
    auth: dict[str, object] = {}
    for key, child in node.entries():
        if key in ("username", "password"):
            auth[key] = child.text()
        elif key in ("username_file", "password_file"):
            mapping.draft.disable(f"{child.where}: prober reads no secret files: set basic_auth.{key[:-5]} "
                                  "(from '${VAR}') and uncomment")
        else:
            mapping.draft.no_equivalent(f"basic_auth.{key}")
    auth.setdefault("username", "")
    if "password" in auth:
        mapping.draft.comment("blackbox: basic_auth.password carried over as written; prober can take it from "
                              "the environment: '${VAR}'", "basic_auth")
    else:
        mapping.draft.disable(f"{node.where}: prober's basic_auth needs a password")
    mapping.draft.put("basic_auth", auth)


def _authorization(mapping: Mapping, node: Node) -> None:
    kind = node.at("type").text() if node.at("type").present else "Bearer"
    if node.at("credentials_file").present:
        mapping.draft.disable(f"{node.at('credentials_file').where}: prober reads no secret files: set "
                              "bearer_token (from '${VAR}') and uncomment")
        return
    credentials = node.at("credentials").text() if node.at("credentials").present else ""
    if kind.lower() == "bearer":
        mapping.draft.put("bearer_token", credentials)
    else:
        headers = _dict(mapping.draft.get("headers"))
        headers["Authorization"] = f"{kind} {credentials}"
        mapping.draft.put("headers", headers)


def _bearer_token(mapping: Mapping, node: Node) -> None:
    mapping.draft.put("bearer_token", node.text())


def _bearer_token_file(mapping: Mapping, node: Node) -> None:
    mapping.draft.disable(f"{node.where}: prober reads no secret files: set bearer_token (from '${{VAR}}') and "
                          "uncomment")


def _proxy_url(mapping: Mapping, node: Node) -> None:
    proxy = node.text()
    if proxy.lower().startswith(("http://", "https://")):
        mapping.draft.put("proxy", proxy)
    else:
        mapping.draft.no_equivalent("proxy_url", "prober's proxy is an http or https URL", proxy)
        mapping.draft.disable(f"{node.where}: proxy {proxy!r} is not an http(s) proxy")


def _append(mapping: Mapping, path: str, patterns: list[str]) -> None:
    if patterns:
        mapping.draft.put(path, [*_list(mapping.draft.get(path)), *patterns])


def _dict(value: object) -> dict[str, object]:
    return dict(value) if isinstance(value, dict) else {}


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


_HANDLERS: dict[str, Handler] = {
    "valid_status_codes": _status_codes,
    "method": _method,
    "headers": _headers,
    "http_headers": _http_headers,
    "body": _body,
    "body_file": _body_file,
    "body_size_limit": _body_size_limit,
    "follow_redirects": _follow_redirects,
    "no_follow_redirects": _no_follow_redirects,
    "fail_if_not_ssl": _fail_if_not_ssl,
    "fail_if_body_matches_regexp": _body_not_regex,
    "fail_if_body_not_matches_regexp": _body_regex,
    "fail_if_header_matches": _header_matches,
    "fail_if_header_not_matches": _header_not_matches,
    "tls_config": _tls_config,
    "basic_auth": _basic_auth,
    "authorization": _authorization,
    "bearer_token": _bearer_token,
    "bearer_token_file": _bearer_token_file,
    "proxy_url": _proxy_url,
}
