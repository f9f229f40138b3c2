"""What the parsers return: validated records, or a rejection with its reason. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from outage_notify.errors import CodedError

# Customers whom an outage endangers or who serve many others, in the order operators call
# them: priority customers are planned and told first and warned earlier of planned work.
PRIORITIES = ("life_support", "critical_facility")


class RecordError(CodedError):
    """One record is unusable; the message says why, for the person who sent it (and its code
    for a page that says it in the reader's language)."""


@dataclass(frozen=True)
class Rejection:
    index: int  # position of the record in what was sent (0-based)
    error: str
    customer_id: str | None = None
    line: int | None = None  # CSV: the line of the file, for people reading the report

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"index": self.index, "error": self.error}
        if self.customer_id:
            out["customer_id"] = self.customer_id
        if self.line is not None:
            out["line"] = self.line
        return out


@dataclass(frozen=True)
class CustomerRecord:
    customer_id: str
    name: str | None
    address: str | None
    phone: str | None  # E.164
    email: str | None
    language: str
    lat: float
    lon: float
    channels: str | None  # normalised "sms;email;push" subset, None = every channel with an address
    feeder: str | None
    transformer: str | None
    quiet_hours: str | None
    priority: str | None = None  # one of PRIORITIES; None: an ordinary customer

    def as_row(self) -> dict[str, object]:
        return {
            "customer_id": self.customer_id,
            "name": self.name,
            "address": self.address,
            "phone": self.phone,
            "email": self.email,
            "language": self.language,
            "lat": self.lat,
            "lon": self.lon,
            "channels": self.channels,
            "feeder": self.feeder,
            "transformer": self.transformer,
            "quiet_hours": self.quiet_hours,
            "priority": self.priority,
        }
