"""Twilio webhooks: delivery receipts and replies, in Twilio's form encoding.

The X-Twilio-Signature is checked against PUBLIC_URL + path (+ query): behind a proxy the URL
Twilio signed is the public one, not the one this process sees.
"""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from outage_notify.api.deps import get_runtime
from outage_notify.api.errors import ApiError, error_responses
from outage_notify.api.schemas import TWILIO_INBOUND, TWILIO_STATUS, TWIML
from outage_notify.customers.replies import ReplyOutcome, handle_inbound_sms, keyword_of
from outage_notify.delivery.receipts import apply_twilio_status
from outage_notify.incidents.nested import report_still_out
from outage_notify.ingest.customers import normalise_phone
from outage_notify.ingest.records import RecordError
from outage_notify.runtime import Runtime

router = APIRouter(prefix="/webhooks/twilio", tags=["webhooks"])
NOTIFICATION_ID = re.compile(r"[0-9]{1,10}")
# Notification ids are INTEGER columns: 32 bits on PostgreSQL, which refuses a larger value.
MAX_NOTIFICATION_ID = 2**31 - 1


async def _signed_form(request: Request, runtime: Runtime) -> dict[str, str]:
    token = runtime.settings.twilio_auth_token
    if not token:
        raise ApiError(403, "Twilio is not configured here")
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    url = runtime.settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(token).validate(url, params, signature):
        raise ApiError(403, "X-Twilio-Signature does not match")
    return params


@router.post(
    "/status",
    summary="Twilio delivery receipt (StatusCallback)",
    response_class=Response,
    responses={
        200: {"description": "Applied (empty body)"},
        202: {"description": "No such message here; nothing to do (empty body)"},
        **error_responses(400, 403, 413, 422),
    },
    openapi_extra=TWILIO_STATUS,
)
async def twilio_status(request: Request, runtime: Runtime = Depends(get_runtime)) -> Response:
    params = await _signed_form(request, runtime)
    sid, status = params.get("MessageSid"), params.get("MessageStatus")
    if not sid or not status:
        raise ApiError(422, "MessageSid and MessageStatus are required")
    notification_id = _notification_id(request.query_params.get("n"))

    def apply() -> bool:
        with runtime.transaction() as session:
            return apply_twilio_status(
                session,
                notification_id=notification_id,
                message_sid=sid,
                status=status,
                error_code=(params.get("ErrorCode") or "")[:16] or None,
                renderer=runtime.renderer,
                hasher=runtime.hasher,
                now=runtime.clock.now(),
            )

    found = await run_in_threadpool(apply)
    runtime.after_commit()
    # 200 even for an unknown message: Twilio retrying would not make it known.
    return Response(status_code=200 if found else 202)


@router.post(
    "/inbound",
    summary="An SMS reply from a customer",
    response_class=Response,
    responses={200: TWIML, **error_responses(400, 403, 413, 422)},
    openapi_extra=TWILIO_INBOUND,
)
async def twilio_inbound(request: Request, runtime: Runtime = Depends(get_runtime)) -> Response:
    params = await _signed_form(request, runtime)
    sender, body = params.get("From", ""), params.get("Body", "")
    try:
        phone = normalise_phone(sender, runtime.settings.default_region)
    except RecordError as exc:
        raise ApiError(422, f"From: {exc}") from exc

    def still_out(session: Session, customer_pks: list[int], now: datetime) -> set[int]:
        nested = report_still_out(
            session, service=runtime.incidents, customer_pks=customer_pks, now=now
        )
        return {pk for pk, _ in nested}

    def handle() -> ReplyOutcome:
        if keyword_of(body) == "out":
            runtime.warm_index()  # a nested outage is matched: before the write transaction
        with runtime.transaction() as session:
            return handle_inbound_sms(
                session,
                from_number=phone,
                body=body,
                message_sid=params.get("MessageSid", ""),
                hasher=runtime.hasher,
                now=runtime.clock.now(),
                still_out=still_out,
            )

    outcome = await run_in_threadpool(handle)
    if outcome.nested:
        runtime.after_commit()
    answer = MessagingResponse()
    if outcome.answer is not None:
        language = outcome.language or runtime.settings.default_language
        answer.message(runtime.renderer.reply(outcome.answer, language))
    return Response(str(answer), media_type="application/xml")


def _notification_id(ref: str | None) -> int | None:
    """Our StatusCallback's ?n=: absent on callbacks of messages sent before it existed."""
    if ref is None:
        return None
    if not NOTIFICATION_ID.fullmatch(ref) or int(ref) > MAX_NOTIFICATION_ID:
        raise ApiError(422, "n must be a notification id (digits)")
    return int(ref)
