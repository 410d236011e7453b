"""Redaction of a check's secret params from everything a journey run writes: details, console log, trace."""

from __future__ import annotations

import json
import os
import zipfile
from urllib.parse import quote, quote_plus

MASK = "<redacted>"


class Redactor:
    """Replaces each secret (and its JSON- and URL-encoded forms) with `<redacted>`."""

    def __init__(self, secrets: list[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            forms |= {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)}
        self._texts = sorted(forms, key=len, reverse=True)
        self._bytes = [form.encode() for form in self._texts]

    def __bool__(self) -> bool:
        return bool(self._texts)

    def text(self, value: str) -> str:
        for form in self._texts:
            value = value.replace(form, MASK)
        return value

    def data(self, value: bytes) -> bytes:
        for form in self._bytes:
            value = value.replace(form, MASK.encode())
        return value

    def zip_file(self, path: str) -> None:
        """Rewrite a zip (a Playwright trace) with every member redacted; members are read one at a time."""
        if not self:
            return
        tmp = path + ".redacting"
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                target.writestr(info, self.data(source.read(info)))
        os.replace(tmp, path)
