"""Everything a process needs, built once from the settings: engine, sessions, templates,
the customer index, the services, the channels and (when enabled) the dispatcher."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from outage_notify import paths
from outage_notify.auth.customer_links import PURPOSE as LINKS
from outage_notify.auth.secret import SecretKey
from outage_notify.clock import SYSTEM_CLOCK, Clock
from outage_notify.config import Settings
from outage_notify.customers.contacts import ContactHasher
from outage_notify.db.database import Database
from outage_notify.db.engine import make_engine, make_session_factory, reading, transaction
from outage_notify.delivery.channels import build_channels, uses_dev_sink
from outage_notify.delivery.channels.base import Channel
from outage_notify.delivery.dispatcher import Dispatcher
from outage_notify.incidents.service import IncidentService
from outage_notify.matching.index_cache import CustomerIndexCache
from outage_notify.matching.matcher import matcher_for
from outage_notify.planning.jobs import JobContext
from outage_notify.planning.messages import MessageRenderer
from outage_notify.planning.service import Planner
from outage_notify.planning.worker import PlanningWorker
from outage_notify.scheduler.background import Scheduler
from outage_notify.scheduler.jobs import JobContext as ScheduledJobContext


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_engine: Engine
    read_sessions: sessionmaker[Session]
    renderer: MessageRenderer
    customer_index: CustomerIndexCache
    incidents: IncidentService
    channels: dict[str, Channel]
    dispatcher: Dispatcher
    planner: PlanningWorker
    warm_index: Callable[[], None]  # the matcher brought up to date in a read transaction
    secret: SecretKey = field(repr=False)
    hasher: ContactHasher = field(repr=False)
    # The clock: where "now" comes from, and the sweeps (started by serve and worker).
    clock: Clock = SYSTEM_CLOCK
    scheduler: Scheduler = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.scheduler = Scheduler(
            sessions=self.sessions,
            read_sessions=self.read_sessions,
            settings=self.settings,
            clock=self.clock,
            incidents=self.incidents,
            warm=self.warm_index,
            wake=self.after_commit,
        )

    @classmethod
    def build(
        cls, settings: Settings, *, migrate: bool = False, clock: Clock = SYSTEM_CLOCK
    ) -> Runtime:
        """migrate=True brings the schema to head (serve, demo); otherwise a database not at
        head is refused (workers never migrate)."""
        database = Database.open(settings, migrate=migrate)
        engine, sessions, hasher = database.engine, database.sessions, database.hasher
        read_engine = (
            make_engine(
                settings.database_url, writer=False, busy_seconds=settings.sqlite_busy_seconds
            )
            if settings.is_sqlite
            else engine
        )
        renderer = MessageRenderer(paths.TEMPLATES, settings.zone)
        index = CustomerIndexCache()
        matcher = matcher_for(engine.dialect.name, index)
        planner = Planner(renderer=renderer, settings=settings, hasher=hasher)
        channels = build_channels(settings)
        dispatcher = Dispatcher(
            sessions=sessions,
            channels=channels,
            renderer=renderer,
            settings=settings,
            hasher=hasher,
            clock=clock,
        )
        read_sessions = make_session_factory(read_engine)

        def warm_index() -> None:
            """Brings the matcher up to date outside any write transaction (requests and
            planning steps call it first)."""
            with reading(read_sessions) as session:
                matcher.warm(session)

        planning = PlanningWorker(
            sessions=sessions,
            context=JobContext(
                planner=planner,
                matcher=matcher,
                chunk_size=settings.planning_chunk,
                lease=timedelta(seconds=settings.lease_seconds),
            ),
            now=clock.now,
            worker_id=dispatcher.worker_id,
            on_planned=dispatcher.wake,
            before_step=warm_index,
            # SQLite has one write lock, and a thread that releases a lock usually takes it
            # again before a waiting one wakes: a breath between chunks lets the dispatcher
            # send the first messages while a storm is still being planned (the engine
            # bench saw 223 of 100,000 customers' SMS sent during 35 s of planning without).
            pause_between_steps=0.005 if settings.is_sqlite else 0.0,
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            read_engine=read_engine,
            read_sessions=read_sessions,
            renderer=renderer,
            customer_index=index,
            incidents=IncidentService(matcher=matcher, settings=settings),
            channels=channels,
            dispatcher=dispatcher,
            planner=planning,
            warm_index=warm_index,
            secret=database.secret,
            hasher=hasher,
            clock=clock,
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """For requests that only read: on SQLite they do not wait for the write lock."""
        with reading(self.read_sessions) as session:
            yield session

    def job_context(self, owner: str) -> ScheduledJobContext:
        """What a scheduled job needs to run here by hand (the demo, tests, the bench), as
        the scheduler gives it: the incident service, the index warm-up, the workers' wake-up."""
        return ScheduledJobContext(
            self.sessions,
            self.settings,
            self.clock,
            owner,
            incidents=self.incidents,
            warm=self.warm_index,
            wake=self.after_commit,
        )

    def after_commit(self) -> None:
        """A planning job or new messages may be waiting: the workers should look now."""
        self.planner.wake()
        self.dispatcher.wake()

    def start_workers(self) -> None:
        """Planning and delivery threads (serve, worker)."""
        self.planner.start()
        self.dispatcher.start()

    def drain(self, *, timeout: float = 120.0) -> int:
        """Plans every pending job, then delivers everything due (tests, the demo); returns
        the messages handled."""
        self.planner.drain(timeout=timeout)
        return self.dispatcher.drain(timeout=timeout)

    @property
    def link_key(self) -> bytes:
        return self.secret.derive(LINKS)

    @property
    def dev_sink_channels(self) -> list[str]:
        return uses_dev_sink(self.channels)

    @property
    def has_real_provider(self) -> bool:
        return len(self.dev_sink_channels) < len(self.channels)

    def close(self) -> None:
        self.scheduler.stop()
        self.planner.stop()
        self.dispatcher.stop()
        self.engine.dispose()
        self.read_engine.dispose()
