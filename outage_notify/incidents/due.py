"""Rules that time sets off (CONTRACT.md rule 10), run by the `due-rules` sweep.

What is due is read from the database each run (the incident's times and each customer's
tie: what they were told and when), so a sweep missed (a restart, the clock's lease moving) is
caught up by the next, and a sweep run twice changes nothing the second time: a rule records a
revision only for an incident whose planning is done and where some customer is still due, and
planning then moves those customers' state past it.

- Confirmation: an unplanned outage from a feed is told once it has lasted CONFIRM_SECONDS since
  its start, if the feed still lists it (one missing from the latest poll may be over).
- ETR missed: a customer whose ETR passed ETR_GRACE_MINUTES ago, with no new estimate ahead,
  gets one `etr_missed`; a new estimate that was not news by itself (within
  ETR_CHANGE_MINUTES of the passed one) is named in it.
- Reassurance: a customer of a live outage who has heard nothing for REASSURE_HOURS gets a short
  `reassurance`, and again after each further period of silence.
- Planned work: the evening before it starts, one `planned_reminder`; at its end, the incident is
  closed and those told get `planned_done`.
- Weather warnings: at its expiry a warning is closed (`expired`); advisories still held for
  quiet hours are then withdrawn, and nothing more is sent.
- Standard compensation: each affected customer's band is kept current from their outage's
  duration as the Act counts it (compensation.py), with a timeline event for agents when it
  rises; reaching the first band, a told customer gets one `compensation` notice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from outage_notify.db.models import FeedItem, Incident, IncidentCustomer, PlanningJob
from outage_notify.incidents.changes import Change
from outage_notify.incidents.compensation import CHAIN_GAP, Band, band_for, bands, chained_duration
from outage_notify.incidents.model import ACTIVE_STATUSES, IncidentKind, Status
from outage_notify.incidents.service import IncidentService
from outage_notify.planning.rules import RECENTLY_TOLD, reminder_at
from outage_notify.timeline import service as timeline

if TYPE_CHECKING:
    from outage_notify.scheduler.jobs import JobContext

ACTIVE = tuple(sorted(ACTIVE_STATUSES))
CONFIRM_ACTOR = "rule:confirm"
ETR_MISSED_ACTOR = "rule:etr-missed"
SILENCE_ACTOR = "rule:reassure"
REMINDER_ACTOR = "rule:planned-reminder"
PLANNED_END_ACTOR = "rule:planned-end"
COMPENSATION_ACTOR = "rule:compensation"
WARNING_EXPIRY_ACTOR = "rule:warning-expiry"


def due_for_confirmation(session: Session, *, now: datetime, confirm_seconds: float) -> list[str]:
    """Unconfirmed open outages from feeds that have lasted long enough and are still listed."""
    cutoff = now - timedelta(seconds=confirm_seconds)
    # Only a feed's outages wait for time to confirm them (a nested outage someone reported
    # waits for a person), and only while the feed still lists them.
    listed = exists().where(FeedItem.incident_id == Incident.id, FeedItem.absent_polls == 0)
    return list(
        session.scalars(
            select(Incident.id)
            .where(
                Incident.confirmed_at.is_(None),
                Incident.status.in_(ACTIVE),
                Incident.started_at <= cutoff,
                listed,
            )
            .order_by(Incident.started_at)
        )
    )


def _told_and_affected() -> Any:
    return (
        (IncidentCustomer.incident_id == Incident.id)
        & IncidentCustomer.affected.is_(True)
        & IncidentCustomer.told_version.is_not(None)
    )


def _planning_done() -> Any:
    """No planning pending: what planning is about to do may already settle the customers."""
    return ~exists().where(PlanningJob.incident_id == Incident.id, PlanningJob.state == "pending")


def due_etr_missed(session: Session, *, now: datetime, grace_minutes: float) -> list[str]:
    passed = now - timedelta(minutes=grace_minutes)
    return _open_outages_with_told(session, IncidentCustomer.told_etr <= passed)


def due_silence(session: Session, *, now: datetime, reassure_hours: float) -> list[str]:
    quiet_since = now - timedelta(hours=reassure_hours)
    return _open_outages_with_told(session, IncidentCustomer.last_told_at <= quiet_since)


def _open_outages_with_told(session: Session, condition: Any) -> list[str]:
    """Open unplanned incidents, planning done, with a told, affected customer meeting it."""
    return list(
        session.scalars(
            select(Incident.id).where(
                Incident.kind == IncidentKind.UNPLANNED,
                Incident.status.in_(ACTIVE),
                _planning_done(),
                exists().where(_told_and_affected(), condition),
            )
        )
    )


def due_reminders(session: Session, *, now: datetime, zone: Any) -> list[str]:
    """Planned work starting within two days whose reminder time has come, with someone told
    of it and not yet reminded."""
    rows = session.execute(
        select(Incident.id, Incident.starts_at).where(
            Incident.kind == IncidentKind.PLANNED,
            Incident.status.in_(ACTIVE),
            Incident.starts_at > now,
            Incident.starts_at <= now + timedelta(days=2),
            _planning_done(),
        )
    ).all()
    due = []
    for incident_id, starts_at in rows:
        if starts_at is None:
            continue
        evening_before = reminder_at(starts_at, zone)
        if now < evening_before:
            continue
        waiting = session.scalar(
            select(
                exists().where(
                    IncidentCustomer.incident_id == incident_id,
                    IncidentCustomer.affected.is_(True),
                    IncidentCustomer.told_version.is_not(None),
                    IncidentCustomer.reminded_at.is_(None),
                    IncidentCustomer.last_told_at < evening_before - RECENTLY_TOLD,
                )
            )
        )
        if waiting:
            due.append(incident_id)
    return due


def due_planned_ends(session: Session, *, now: datetime) -> list[str]:
    return _open_past_their_end(session, IncidentKind.PLANNED, now)


def due_warning_expiries(session: Session, *, now: datetime) -> list[str]:
    return _open_past_their_end(session, IncidentKind.WARNING, now)


def _open_past_their_end(session: Session, kind: IncidentKind, now: datetime) -> list[str]:
    return list(
        session.scalars(
            select(Incident.id).where(
                Incident.kind == kind,
                Incident.status.in_(ACTIVE),
                Incident.ends_at <= now,
            )
        )
    )


def _long_outages() -> Any:
    """Open, confirmed unplanned incidents: those whose customers' outages count."""
    return select(Incident.id).where(
        Incident.kind == IncidentKind.UNPLANNED,
        Incident.status.in_(ACTIVE),
        Incident.confirmed_at.is_not(None),
    )


def update_compensation_bands(
    session: Session, *, now: datetime, table: Sequence[Band]
) -> list[timeline.Event]:
    """Raises each affected customer's band to what their outage has reached; returns the
    timeline events that say so. Ties are looked at from their own start (one statement per
    band, highest first); customers whose outage continues one that ended less than two
    hours before are counted over the whole chain."""
    raised: dict[tuple[str, int], tuple[Band, timedelta]] = {}
    for band in reversed(table):
        rows = session.execute(
            update(IncidentCustomer)
            .where(
                IncidentCustomer.incident_id.in_(_long_outages()),
                IncidentCustomer.affected.is_(True),
                IncidentCustomer.since <= now - timedelta(hours=band.hours),
                func.coalesce(IncidentCustomer.compensation_percent, 0) < band.percent,
            )
            .values(compensation_percent=band.percent)
            .returning(
                IncidentCustomer.incident_id, IncidentCustomer.customer_pk, IncidentCustomer.since
            )
            .execution_options(synchronize_session=False)
        ).all()
        for incident_id, customer_pk, since in rows:
            raised.setdefault((incident_id, customer_pk), (band, now - since))
    just_raised = {key: band for key, (band, _) in raised.items()}
    chained = _chained_bands(session, now=now, table=table, just_raised=just_raised)
    for key, found in chained.items():
        raised[key] = found
    return [
        timeline.Event(
            customer_pk=customer_pk,
            at=now,
            type=timeline.COMPENSATION,
            incident_id=incident_id,
            # What an agent tells a caller: the band, its threshold, and how long they have
            # been without power as the Act counts it (chained outages summed).
            data={
                "percent": band.percent,
                "hours": band.hours,
                "duration_minutes": int(duration.total_seconds() // 60),
            },
        )
        for (incident_id, customer_pk), (band, duration) in raised.items()
    ]


def _chained_bands(
    session: Session,
    *,
    now: datetime,
    table: Sequence[Band],
    just_raised: Mapping[tuple[str, int], Band],
) -> dict[tuple[str, int], tuple[Band, timedelta]]:
    """Bands of affected customers whose earlier outage ended less than CHAIN_GAP before
    this one began (rare: counted one by one)."""
    earlier = IncidentCustomer.__table__.alias("earlier")
    # Older than the top band (and the gap), an earlier outage can change no band.
    horizon = now - timedelta(hours=table[-1].hours) - CHAIN_GAP
    candidates = session.execute(
        select(IncidentCustomer.incident_id, IncidentCustomer.customer_pk).where(
            IncidentCustomer.incident_id.in_(_long_outages()),
            IncidentCustomer.affected.is_(True),
            exists().where(
                earlier.c.customer_pk == IncidentCustomer.customer_pk,
                earlier.c.incident_id != IncidentCustomer.incident_id,
                earlier.c.released_at >= horizon,
            ),
        )
    ).all()
    found: dict[tuple[str, int], tuple[Band, timedelta]] = {}
    for incident_id, customer_pk in candidates:
        duration = chained_duration(_outages_of(session, customer_pk), now=now)
        band = band_for(duration, table)
        tie = session.get(IncidentCustomer, (incident_id, customer_pk))
        if band is None or tie is None:
            continue
        key = (incident_id, customer_pk)
        # Raised just now from this outage alone, the event still tells the whole duration.
        raised = just_raised.get(key)
        if raised is not None or (tie.compensation_percent or 0) < band.percent:
            reached = max(band, raised or band, key=lambda b: b.percent)
            tie.compensation_percent = reached.percent
            found[key] = (reached, duration)
    return found


def _outages_of(session: Session, customer_pk: int) -> list[tuple[datetime, datetime | None]]:
    """The customer's unplanned outages: (out since, back at; None while out)."""
    rows = session.execute(
        select(IncidentCustomer.since, IncidentCustomer.released_at, Incident.closed_at)
        .join(Incident, Incident.id == IncidentCustomer.incident_id)
        .where(
            IncidentCustomer.customer_pk == customer_pk,
            Incident.kind == IncidentKind.UNPLANNED,
            Incident.confirmed_at.is_not(None),
        )
    ).all()
    spans = []
    for since, released, closed in rows:
        ends = [moment for moment in (released, closed) if moment is not None]
        spans.append((since, min(ends) if ends else None))
    return spans


def due_compensation_notices(session: Session) -> list[str]:
    """Incidents with a told customer whose first band has not been told yet."""
    return list(
        session.scalars(
            select(Incident.id).where(
                Incident.id.in_(_long_outages()),
                _planning_done(),
                exists().where(
                    _told_and_affected(),
                    IncidentCustomer.compensation_percent.is_not(None),
                    IncidentCustomer.compensation_told.is_(None),
                ),
            )
        )
    )


def _locked(session: Session, incident_id: str) -> Incident | None:
    return session.scalar(
        select(Incident).where(Incident.id == incident_id).with_for_update(key_share=True)
    )


def confirm(session: Session, *, service: IncidentService, incident_id: str, now: datetime) -> bool:
    """Confirms one incident (locked, and looked at again under the lock)."""
    incident = _locked(session, incident_id)
    if incident is None:
        return False
    return service.confirm(session, incident=incident, actor=CONFIRM_ACTOR, now=now)


def _noter(change: Change, actor: str) -> Callable[..., bool]:
    def note(
        session: Session, *, service: IncidentService, incident_id: str, now: datetime
    ) -> bool:
        incident = _locked(session, incident_id)
        if incident is None or incident.status not in ACTIVE_STATUSES:
            return False
        service.note(session, incident=incident, change=change, actor=actor, now=now)
        return True

    return note


def _end_planned(
    session: Session, *, service: IncidentService, incident_id: str, now: datetime
) -> bool:
    incident = _locked(session, incident_id)
    if incident is None or incident.status not in ACTIVE_STATUSES:
        return False
    return service.restore(
        session, incident=incident, actor=PLANNED_END_ACTOR, now=now, at=incident.ends_at
    )


def _expire_warning(
    session: Session, *, service: IncidentService, incident_id: str, now: datetime
) -> bool:
    incident = _locked(session, incident_id)
    if incident is None or incident.status not in ACTIVE_STATUSES:
        return False
    return service.close(
        session, incident=incident, status=Status.EXPIRED, actor=WARNING_EXPIRY_ACTOR, now=now
    )


def run_due_rules(ctx: JobContext) -> dict[str, Any]:
    """The sweep: each incident in its own short transaction."""
    if ctx.incidents is None:
        raise RuntimeError("due-rules needs the incident service in its job context")
    settings, now = ctx.settings, ctx.clock.now()
    with ctx.transaction() as session:
        events = update_compensation_bands(
            session, now=now, table=bands(settings.compensation_hours)
        )
        timeline.log_events(session, events)
    with ctx.transaction() as session:
        found = {
            "confirmed": (
                due_for_confirmation(session, now=now, confirm_seconds=settings.confirm_seconds),
                confirm,
            ),
            "etr_missed": (
                due_etr_missed(session, now=now, grace_minutes=settings.etr_grace_minutes),
                _noter(Change.ETR_MISSED, ETR_MISSED_ACTOR),
            ),
            "reassured": (
                due_silence(session, now=now, reassure_hours=settings.reassure_hours),
                _noter(Change.SILENCE, SILENCE_ACTOR),
            ),
            "reminded": (
                due_reminders(session, now=now, zone=settings.zone),
                _noter(Change.REMINDER_DUE, REMINDER_ACTOR),
            ),
            "planned_ended": (due_planned_ends(session, now=now), _end_planned),
            "warnings_expired": (due_warning_expiries(session, now=now), _expire_warning),
            "compensation": (
                due_compensation_notices(session),
                _noter(Change.COMPENSATION_DUE, COMPENSATION_ACTOR),
            ),
        }
    done: dict[str, Any] = {}
    acted = set()
    for name, (incident_ids, act) in found.items():
        done[name] = 0
        for incident_id in incident_ids:
            if ctx.stopping() or incident_id in acted:
                continue  # one rule per incident and run: the next run sees what is left
            with ctx.transaction() as session:
                if act(session, service=ctx.incidents, incident_id=incident_id, now=now):
                    done[name] += 1
                    acted.add(incident_id)
    if acted:
        ctx.wake()
    done["bands_raised"] = len(events)
    return done
