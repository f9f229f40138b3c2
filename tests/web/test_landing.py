"""The landing page is public: how many customers and messages there are is for staff only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.auth.users import create_user
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.town import cells, town
from tests.web.signing import sign_in


def test_counts_show_only_to_signed_in_staff(make_settings: Callable[..., Any]) -> None:
    runtime = Runtime.build(make_settings(public_url="http://127.0.0.1:8000"))
    with runtime.transaction() as session:
        create_user(session, username="ops", role="operator", password="x" * 12, now=utcnow())
        keys = {
            role: {
                "Authorization": "Bearer "
                + create_key(session, role=role, name=role, now=utcnow())[1]
            }
            for role in ("admin", "operator")
        }
    with TestClient(create_app(runtime=runtime)) as client:
        client.post("/api/v1/customers", json=town(), headers=keys["admin"])
        client.post(
            "/api/v1/incidents",
            json={"external_id": "L-1", "area": cells(0, 0, 2, 2)},
            headers=keys["operator"],
        )
        public = client.get("/")
        assert public.status_code == 200
        for hidden in ('id="count-customers"', 'id="count-incidents"', 'id="count-messages"'):
            assert hidden not in public.text
        assert 'href="/login"' in public.text  # the way in is still there
        assert sign_in(client, "ops", "x" * 12).status_code == 303
        staff = client.get("/")
    runtime.close()
    assert 'id="count-customers">50<' in staff.text
    assert 'id="count-incidents">1<' in staff.text
