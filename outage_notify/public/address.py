"""The public address search's query: a street name and a house number, nothing vaguer.

The search answers whether an address lies in a known outage, planned work or warning. It
must not become a way to list customers' addresses: a query needs a street name and a house
number (a street alone, a number alone, or a few letters are refused with the reason), and
the answer has the same shape whether or not anyone lives there. Pure: no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from outage_notify.ingest.text import has_control

MIN_LENGTH = 5
MAX_LENGTH = 200
# A street name (a word of three letters or more, maybe more words) then a house number
# (digits, maybe a letter: 14, 14b); anything after it (staircase, flat, town) is ignored.
STREET_AND_NUMBER = re.compile(
    r"^\s*(?P<street>(?:[^\W\d_][\w.'’-]*\s+)*?[^\W\d_][\w.'’-]{2,})\.?\s+(?P<number>\d{1,5}[^\W\d_]?)(?![\w])",
)
HINT = "Type a street name and a house number, for example Jokikatu 14."


class AddressRefused(ValueError):
    """The query cannot be searched; the message says why, in words for the public."""


@dataclass(frozen=True)
class AddressQuery:
    street: str  # as typed, spaces collapsed
    number: str  # "14", "14b"

    @property
    def prefix(self) -> str:
        """How a service address at this street and number begins: "Jokikatu 14"."""
        return f"{self.street} {self.number}"

    def matches(self, address: str | None) -> bool:
        """Does this stored address start with the street and number (14 is not 140)?"""
        if not address:
            return False
        text = " ".join(address.split()).casefold()
        prefix = self.prefix.casefold()
        if not text.startswith(prefix):
            return False
        rest = text[len(prefix) :]
        return not rest or not (rest[0].isalnum())


def parse_address(text: str) -> AddressQuery:
    """The street and number of a typed address; AddressRefused with the reason otherwise."""
    cleaned = " ".join(text.split())
    if has_control(text):
        raise AddressRefused("The address holds characters that cannot be searched. " + HINT)
    if len(cleaned) < MIN_LENGTH:
        raise AddressRefused(f"The address is too short to search. {HINT}")
    if len(cleaned) > MAX_LENGTH:
        raise AddressRefused(f"The address is too long to search. {HINT}")
    found = STREET_AND_NUMBER.match(cleaned)
    if found is None:
        raise AddressRefused(f"A street name and a house number are both needed. {HINT}")
    return AddressQuery(street=found.group("street"), number=found.group("number"))
