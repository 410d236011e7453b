"""How a browser check sees the web: the device it emulates, the network it is throttled to, its locale, timezone
and position. Shared by `type: page` and `type: journey`; the journey worker applies it to each run's context.

`device` names one of Playwright's device descriptors (checked at config load against the installed Playwright,
see `prober/journey/devices.py`); `network` is a preset or explicit figures, applied through the DevTools
protocol: `latency` is added to each request's wait for its response (DevTools' request latency, as Lighthouse
applies it), `download_kbps` and `upload_kbps` cap the throughput.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from prober.config.check_base import CheckBase, Frozen
from prober.config.maintenance import timezone_name
from prober.config.units import Duration


class NetworkConditions(Frozen):
    """A throttled network: per-request latency and throughput caps in kbit/s (None: not capped)."""

    latency: Duration = Field(default=0.0, ge=0, le=60)
    """Added to each request's wait for its answer."""
    download_kbps: float | None = Field(default=None, gt=0)
    upload_kbps: float | None = Field(default=None, gt=0)
    offline: bool = False


NetworkPreset = Literal["offline", "slow_3g", "fast_3g", "slow_4g", "fast_4g"]
NETWORK_PRESETS: dict[str, NetworkConditions] = {
    name: NetworkConditions.model_validate(figures) for name, figures in {
        "offline": {"offline": True},
        # DevTools' "Slow 3G" and "Fast 3G"
        "slow_3g": {"latency": "2s", "download_kbps": 400, "upload_kbps": 400},
        "fast_3g": {"latency": "563ms", "download_kbps": 1440, "upload_kbps": 675},
        # Lighthouse's mobile "slow 4G" figures (150 ms, 1.6 Mbit/s down, 750 kbit/s up), and a good 4G
        "slow_4g": {"latency": "150ms", "download_kbps": 1600, "upload_kbps": 750},
        "fast_4g": {"latency": "40ms", "download_kbps": 9000, "upload_kbps": 1500},
    }.items()
}
"""The named networks of `network:`; the README's table lists their figures."""


def _locale(value: str) -> str:
    if not re.fullmatch(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8}){0,3}", value):
        raise ValueError(f"expected a BCP 47 locale such as 'en-GB' or 'zh-CN' (got {value!r})")
    return value


Locale = Annotated[str, AfterValidator(_locale)]
Timezone = Annotated[str, AfterValidator(timezone_name)]


class Geolocation(Frozen):
    """Where the browser says it is (the page is granted the geolocation permission)."""

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy: float = Field(default=10.0, ge=0, le=100_000)
    """Metres."""


class BrowserCheck(CheckBase):
    """The keys of the check types that run in the browser (journey, page): how the browser presents itself."""

    device: str | None = Field(default=None, min_length=1, max_length=100)
    """A Playwright device descriptor by name ("iPhone 13", "Pixel 7", "Desktop Chrome"): viewport, user agent,
    scale factor, touch, mobile."""
    network: NetworkPreset | NetworkConditions | None = None
    locale: Locale | None = None
    timezone: Timezone | None = None
    geolocation: Geolocation | None = None

    @field_validator("network", mode="before")
    @classmethod
    def _network(cls, value: object) -> object:
        if isinstance(value, str) and value not in NETWORK_PRESETS:
            raise ValueError(f"expected one of {', '.join(NETWORK_PRESETS)}, or figures such as "
                             f"{{latency: 150ms, download_kbps: 1600, upload_kbps: 750}} (got {value!r})")
        return value

    @property
    def network_conditions(self) -> NetworkConditions | None:
        return NETWORK_PRESETS[self.network] if isinstance(self.network, str) else self.network

    def emulation(self) -> dict[str, Any]:
        """What the journey worker needs to open this check's browser context (see `prober/journey/emulation.py`):
        plain JSON, keys absent when not set."""
        out: dict[str, Any] = {}
        if self.device is not None:
            out["device"] = self.device
        if self.locale is not None:
            out["locale"] = self.locale
        if self.timezone is not None:
            out["timezone"] = self.timezone
        if self.geolocation is not None:
            out["geolocation"] = self.geolocation.model_dump()
        network = self.network_conditions
        if network is not None:
            out["network"] = {"offline": network.offline, "latency_ms": network.latency * 1000.0,
                              "download_kbps": network.download_kbps, "upload_kbps": network.upload_kbps}
        return out
