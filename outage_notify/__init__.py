"""outage_notify: tells electricity customers about power cuts before they have to call."""

__version__ = "0.1.0"
