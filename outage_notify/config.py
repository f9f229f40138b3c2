"""One Settings class: every knob of CONTRACT.md, read from OUTAGE_NOTIFY_* variables."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from outage_notify.matching.territory import Territory

Language = Literal["fi", "sv", "en"]
LANGUAGES: tuple[Language, ...] = ("fi", "sv", "en")
MIN_SECRET_LENGTH = 32
TILE_PARTS = ("{z}", "{x}", "{y}")


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTAGE_NOTIFY_", extra="ignore")

    database_url: str = "sqlite:///outage_notify.db"
    timezone: str = "Europe/Helsinki"
    default_language: Language = "fi"
    default_region: str = "FI"

    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    twilio_timeout_seconds: float = 10.0

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "outage-notify@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 10.0

    vapid_private_key: str | None = None
    vapid_subject: str = "mailto:outage-notify@localhost"
    push_timeout_seconds: float = 10.0

    public_url: str = "http://127.0.0.1:8000"
    # The maps' base layer: a tile URL template ({z}, {x}, {y}) of a tile server the readers'
    # browsers may reach, and the attribution its licence asks for. Unset: a plain background
    # with the outlines of MAP_OUTLINES, so the maps need no internet.
    map_tile_url: str | None = None
    map_tile_attribution: str = ""
    # District or municipality outlines (a GeoJSON file): drawn on the plain background, and
    # naming the areas of the public outage map. Unset: the demo town's (fixtures/basemap/).
    map_outlines: str | None = None
    # The number the public outage map gives for reporting a fault (shown as a tel: link).
    service_phone: str | None = None
    # Keys the HMACs of customer links, the sign-in form's CSRF cookie and the hashes of
    # opted-out and erased contacts. Unset: a random key is made on first run and kept in
    # secret_key_file, outside the database, so that a copy of the database alone cannot
    # reverse those hashes.
    secret_key: SecretStr | None = None
    # Where a generated key is kept. Unset: beside a SQLite database file (<name>.key), else
    # outage_notify.key in the working directory.
    secret_key_file: str | None = None
    # A signed-in session of the pages lasts this long from sign-in (then sign in again).
    session_hours: float = Field(12, gt=0, le=24 * 31)
    # A customer link stops working this long after its incident closes (or, for a link that
    # names no incident, after it was made); an agent can revoke a customer's links at once.
    customer_link_days: float = Field(30, gt=0)

    cap_feeds: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Which warnings concern the grid (ingest/cap_filter.py); unset lists take its defaults.
    cap_events: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cap_awareness_types: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cap_min_severity: Literal["Minor", "Moderate", "Severe", "Extreme"] = "Moderate"
    cap_urgencies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["Immediate", "Expected"]
    )
    # GeoJSON areas keyed by CAP geocodes (matching/geocodes.py), for warnings that name
    # their area by code only (e.g. fixtures/geocodes/porvoo_region.geojson).
    geocode_table: str | None = None
    outage_feeds: Annotated[list[str], NoDecode] = Field(default_factory=list)
    poll_seconds: float = Field(60, gt=0)
    point_radius_meters: float = Field(300, gt=0, le=50_000)
    # Per fetch of a feed: the most it may send, and how long the whole fetch may take.
    feed_max_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    feed_timeout_seconds: float = Field(30, gt=0)

    etr_change_minutes: int = Field(30, ge=0)
    confirm_seconds: float = Field(180, ge=0)
    restore_after_polls: int = Field(2, ge=1)
    reassure_hours: float = Field(2, gt=0)
    etr_grace_minutes: float = Field(15, ge=0)
    # Outage durations (hours) at which a customer's standard-compensation band changes.
    compensation_hours: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [12.0, 24.0, 72.0, 120.0, 192.0, 288.0]
    )
    planned_notice_hours: float = Field(48, ge=0)
    # Priority customers (life support, critical facilities) hear of planned work this early.
    priority_notice_hours: float = Field(96, ge=0)
    retry_base_seconds: float = Field(30, gt=0)
    max_attempts: int = Field(12, ge=1)

    # Service territory: "minlon,minlat,maxlon,maxlat" or a GeoJSON file of (Multi)Polygons;
    # unset, it is derived from the customers' points (matching/territory.py).
    territory: str | None = None
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    # An incident or warning area with more vertices is refused (422) before any geometry work.
    max_area_vertices: int = Field(20000, ge=4)

    # How long a SQLite writer waits for the database's single write lock.
    sqlite_busy_seconds: float = Field(60.0, gt=0)

    dispatcher_enabled: bool = True
    dispatch_batch_size: int = Field(200, ge=1)
    dispatch_threads: int = Field(8, ge=1)
    # Sends in flight at once per channel and worker (the threads above are shared by all).
    sms_concurrency: int = Field(8, ge=1, le=1000)
    email_concurrency: int = Field(4, ge=1, le=1000)
    push_concurrency: int = Field(8, ge=1, le=1000)
    # Twilio messages per second from one sender (TWILIO_FROM), for the whole deployment; 0:
    # as fast as the workers go (a Messaging Service or short code that queues for itself).
    twilio_messages_per_second: float = Field(0, ge=0, le=10_000)
    lease_seconds: int = Field(45, ge=5)
    dispatch_idle_seconds: float = Field(1.0, gt=0)
    # Customers planned per transaction: small enough that the first messages leave at once
    # and a crash redoes little, big enough that a 500,000-customer storm is a few hundred.
    planning_chunk: int = Field(2000, ge=1, le=50_000)

    # The clock: periodic sweeps, run by the one process that holds the clock's lease. A
    # holder renews every CLOCK_RENEW_SECONDS; a dead holder's lease runs out after
    # CLOCK_LEASE_SECONDS and another process takes it at its next try, so the sweeps resume
    # within lease + renew seconds (60 with the defaults).
    scheduler_enabled: bool = True
    clock_lease_seconds: float = Field(45, gt=0)
    clock_renew_seconds: float = Field(15, gt=0)
    # Incidents closed longer ago than this are deleted with their messages and timeline.
    retention_days: int = Field(730, ge=1)

    @model_validator(mode="after")
    def _renewed_in_time(self) -> Settings:
        # Two renewals fit in one lease: one failed renewal (a busy database) loses nothing.
        if self.clock_renew_seconds * 2 > self.clock_lease_seconds:
            raise ValueError(
                "clock_renew_seconds must be at most half of clock_lease_seconds "
                f"({self.clock_renew_seconds} > {self.clock_lease_seconds} / 2)"
            )
        return self

    @field_validator(
        "cap_feeds",
        "outage_feeds",
        "compensation_hours",
        "cap_events",
        "cap_awareness_types",
        "cap_urgencies",
        mode="before",
    )
    @classmethod
    def _split(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("compensation_hours")
    @classmethod
    def _six_ascending(cls, value: list[float]) -> list[float]:
        from outage_notify.incidents.compensation import bands

        bands(value)  # raises with the reason
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("secret_key")
    @classmethod
    def _strong_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"secret_key must be at least {MIN_SECRET_LENGTH} characters "
                "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return value

    @field_validator("map_tile_url")
    @classmethod
    def _tile_template(cls, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value and not (
            value.startswith(("https://", "http://")) and all(p in value for p in TILE_PARTS)
        ):
            raise ValueError(
                "map_tile_url must be an http(s) URL template with {z}, {x} and {y}, "
                "e.g. https://tiles.example.org/{z}/{x}/{y}.png"
            )
        return value

    @field_validator("map_outlines")
    @classmethod
    def _readable_outlines(cls, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value:  # read now, so that a bad file stops start-up rather than the map page
            from outage_notify.public.outlines import read_outlines

            read_outlines(value)
        return value

    @field_validator("territory")
    @classmethod
    def _readable_territory(cls, value: str | None) -> str | None:
        value = value.strip() if value else None
        if not value:
            return None
        if looks_like_box(value):
            parse_box(value)
        else:  # a file: read now, so that a bad one stops start-up rather than an incident
            from outage_notify.matching.territory import read_territory

            read_territory(value)
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def territory_area(self) -> Territory | None:
        """The configured territory, read once per process; None when it is to be derived."""
        if not self.territory:
            return None
        from outage_notify.matching.territory import read_territory

        return read_territory(self.territory)

    @property
    def twilio_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from)

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

    @property
    def push_configured(self) -> bool:
        return bool(self.vapid_private_key)

    @property
    def secure_cookies(self) -> bool:
        """Whether the pages' cookies are sent over HTTPS only: always, except when the
        service's own address is plain http on this machine (a developer's `make run`), where
        there is no HTTPS and no one between the browser and the service."""
        parts = urlsplit(self.public_url)
        return not (parts.scheme == "http" and is_loopback(parts.hostname or ""))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def is_loopback(host: str) -> bool:
    """localhost, *.localhost (RFC 6761), 127.0.0.0/8 or ::1."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def looks_like_box(text: str) -> bool:
    """Numbers and commas only: a box, not the path of a file."""
    return "," in text and set(text) <= set("0123456789.,+-eE ")


def parse_box(text: str) -> tuple[float, float, float, float]:
    """Reads "minlon,minlat,maxlon,maxlat" and checks it is a real box in WGS 84."""
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) != 4:
            raise ValueError(len(parts))
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError as exc:
        raise ValueError(
            "territory must be minlon,minlat,maxlon,maxlat or the path of a GeoJSON file"
        ) from exc
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise ValueError("territory must be minlon,minlat,maxlon,maxlat within WGS 84 ranges")
    return minx, miny, maxx, maxy


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
