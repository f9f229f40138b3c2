"""Rules that time sets off (CONTRACT.md rule 10), run by the `due-rules` sweep.

What is due is read from the database each run (the incident's times and each customer's
tie: what they were told and when), so a sweep missed (a restart, the clock's lease moving) is
caught up by the next, and a sweep run twice changes nothing the second time: a rule records a
revision only for an incident whose planning is done and where some customer is still due, and
planning then moves those customers' state past it.

- Confirmation: an unplanned outage from a feed is told once it has lasted CONFIRM_SECONDS since
  its start, if the feed still lists it (one missing from the latest poll may be over).
- ETR missed: a customer whose ETR passed ETR_GRACE_MINUTES ago, with no new estimate ahead,
  gets one `etr_missed` (with a new estimate, an `etr_update`).
- Reassurance: a customer of a live outage who has heard nothing for REASSURE_HOURS gets a short
  `reassurance`, and again after each further period of silence.
- Planned work: the evening before it starts, one `planned_reminder`; at its end, the incident is
  closed and those told get `planned_done`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from outage_notify.db.models import FeedItem, Incident, IncidentCustomer, PlanningJob
from outage_notify.incidents.changes import Change
from outage_notify.incidents.model import ACTIVE_STATUSES, IncidentKind
from outage_notify.incidents.service import IncidentService
from outage_notify.planning.rules import reminder_at

if TYPE_CHECKING:
    from outage_notify.scheduler.jobs import JobContext

ACTIVE = tuple(sorted(ACTIVE_STATUSES))
CONFIRM_ACTOR = "rule:confirm"
ETR_MISSED_ACTOR = "rule:etr-missed"
SILENCE_ACTOR = "rule:reassure"
REMINDER_ACTOR = "rule:planned-reminder"
PLANNED_END_ACTOR = "rule:planned-end"


def due_for_confirmation(session: Session, *, now: datetime, confirm_seconds: float) -> list[str]:
    """Unconfirmed open incidents that have lasted long enough and are still listed."""
    cutoff = now - timedelta(seconds=confirm_seconds)
    missing_from_feed = exists().where(
        FeedItem.incident_id == Incident.id, FeedItem.absent_polls > 0
    )
    return list(
        session.scalars(
            select(Incident.id)
            .where(
                Incident.confirmed_at.is_(None),
                Incident.status.in_(ACTIVE),
                Incident.started_at <= cutoff,
                ~missing_from_feed,
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
    return list(
        session.scalars(
            select(Incident.id).where(
                Incident.kind == IncidentKind.UNPLANNED,
                Incident.status.in_(ACTIVE),
                _planning_done(),
                exists().where(_told_and_affected(), IncidentCustomer.told_etr <= passed),
            )
        )
    )


def due_silence(session: Session, *, now: datetime, reassure_hours: float) -> list[str]:
    quiet_since = now - timedelta(hours=reassure_hours)
    return list(
        session.scalars(
            select(Incident.id).where(
                Incident.kind == IncidentKind.UNPLANNED,
                Incident.status.in_(ACTIVE),
                _planning_done(),
                exists().where(_told_and_affected(), IncidentCustomer.last_told_at <= quiet_since),
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
                    IncidentCustomer.last_told_at < evening_before,
                )
            )
        )
        if waiting:
            due.append(incident_id)
    return due


def due_planned_ends(session: Session, *, now: datetime) -> list[str]:
    return list(
        session.scalars(
            select(Incident.id).where(
                Incident.kind == IncidentKind.PLANNED,
                Incident.status.in_(ACTIVE),
                Incident.ends_at <= now,
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


def run_due_rules(ctx: JobContext) -> dict[str, Any]:
    """The sweep: each incident in its own short transaction."""
    if ctx.incidents is None:
        raise RuntimeError("due-rules needs the incident service in its job context")
    settings, now = ctx.settings, ctx.clock.now()
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
    return done
