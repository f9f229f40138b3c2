"""Everything a process needs, built once from the settings: engine, sessions, templates,
the customer index, the services, the channels and (when enabled) the dispatcher."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from outage_notify import paths
from outage_notify.config import Settings
from outage_notify.db import meta
from outage_notify.db.engine import make_engine, make_session_factory, transaction
from outage_notify.delivery.channels import build_channels, uses_dev_sink
from outage_notify.delivery.channels.base import Channel
from outage_notify.delivery.dispatcher import Dispatcher
from outage_notify.incidents.service import IncidentService
from outage_notify.matching.index_cache import CustomerIndexCache
from outage_notify.planning.messages import MessageRenderer
from outage_notify.planning.service import Planner


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    renderer: MessageRenderer
    customer_index: CustomerIndexCache
    incidents: IncidentService
    channels: dict[str, Channel]
    dispatcher: Dispatcher

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        engine = make_engine(settings.database_url)
        sessions = make_session_factory(engine)
        renderer = MessageRenderer(paths.TEMPLATES, settings.zone)
        index = CustomerIndexCache()
        planner = Planner(renderer=renderer, settings=settings)
        channels = build_channels(settings)
        dispatcher = Dispatcher(
            sessions=sessions, channels=channels, renderer=renderer, settings=settings
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            renderer=renderer,
            customer_index=index,
            incidents=IncidentService(planner=planner, index=index, settings=settings),
            channels=channels,
            dispatcher=dispatcher,
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    def after_commit(self) -> None:
        """New messages may be waiting: the dispatcher should look now."""
        self.dispatcher.wake()

    @property
    def dev_sink_channels(self) -> list[str]:
        return uses_dev_sink(self.channels)

    def link_secret(self) -> str:
        if self.settings.secret_key:
            return self.settings.secret_key
        with self.transaction() as session:
            return meta.link_secret(session)

    def close(self) -> None:
        self.dispatcher.stop()
        self.engine.dispose()
