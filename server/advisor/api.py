"""JSON for integrations, and the push subscription of an advisor's device.

The same guard and the same scoped queries as the pages: a request of another
centre is 404 here too.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import haven
from ..bodies import parse_json, read_limited
from ..push_services import PushServices
from ..responses import NO_STORE
from ..storage.audit import audit
from ..storage.cases import CaseRow
from ..storage.subscriptions import remove_subscription, save_subscription
from .case import read_case
from .common import guarded, json_error, language, now, pages
from .inbox import read_inbox
from .opening import Opened, open_case
from .sessions import Current

MAX_SUBSCRIPTION = 4096
MAX_ENDPOINT = 2048


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _case_json(case: CaseRow, opened: Opened) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "centre": case.centre,
        "language": case.language,
        "status": case.status,
        "received_at": _iso(case.received_at),
        "due_on": _iso(case.due_on),
        "first_contact_at": _iso(case.first_contact_at),
        "closed_at": _iso(case.closed_at),
        "outcome": case.outcome,
        "written_at": opened.written_at,
        "fields": opened.fields,
        "readable": opened.problem is None,
    }


@guarded(api=True)
async def list_requests(request: Request, current: Current, form: dict[str, str]) -> Response:
    found = await read_inbox(request, current)
    if isinstance(found, str):
        return json_error(400, "invalid_query", found)
    running = haven.of(request)
    await audit(running.db, now=now(request), advisor_id=current.advisor.id, action="api_list")
    return JSONResponse(
        {
            "requests": [
                _case_json(case, open_case(running.keys.inbox, case)) for case in found.cases
            ],
            "counts": found.counts,
            "page": found.page,
            "next_page": found.page + 1 if found.has_next else None,
        },
        headers=NO_STORE,
    )


@guarded(api=True)
async def one_request(request: Request, current: Current, form: dict[str, str]) -> Response:
    _ = pages(request).gettext(language(request))
    reference = str(request.path_params["reference"])
    running = haven.of(request)
    found = await read_case(running, current, reference)
    if found is None:
        return json_error(404, "not_found", _("There is no such request in your inbox."))
    events = [
        {
            "at": _iso(event.at),
            "advisor": event.advisor_email,
            "kind": event.kind,
            "from_centre": event.from_centre,
            "to_centre": event.to_centre,
            "outcome": event.outcome,
            "note": note,
        }
        for event, note in found.events
    ]
    await audit(
        running.db,
        now=now(request),
        advisor_id=current.advisor.id,
        action="api_request",
        reference=reference,
    )
    return JSONResponse(
        {**_case_json(found.case, found.opened), "events": events}, headers=NO_STORE
    )


@guarded(api=True)
async def push_key(request: Request, current: Current, form: dict[str, str]) -> Response:
    return JSONResponse({"publicKey": haven.of(request).push.key.public_key}, headers=NO_STORE)


def _b64(value: object) -> bytes | None:
    if not isinstance(value, str) or len(value) > 200:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


def subscription_problems(
    data: object, services: PushServices, _: Callable[[str], str]
) -> list[dict[str, str]]:
    if not isinstance(data, dict):
        return [{"field": "", "message": _("This must be a JSON object.")}]
    problems = []
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not 0 < len(endpoint) <= MAX_ENDPOINT:
        problems.append(
            {"field": "endpoint", "message": _("This must be the push service's address.")}
        )
    elif not services.allows(endpoint):
        # Any other address would let an advisor account aim the server's
        # POSTs at its own network (see server/push_services.py).
        problems.append(
            {
                "field": "endpoint",
                "message": _(
                    "Notifications can only go through the push service of a major "
                    "browser, or one the operator has added."
                ),
            }
        )
    keys = data.get("keys")
    keys = keys if isinstance(keys, dict) else {}
    p256dh = _b64(keys.get("p256dh"))
    valid_point = False
    if p256dh is not None and len(p256dh) == 65 and p256dh[0] == 4:
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
            valid_point = True
        except ValueError:
            valid_point = False
    if not valid_point:
        problems.append({"field": "keys.p256dh", "message": _("This must be a P-256 public key.")})
    auth = _b64(keys.get("auth"))
    if auth is None or len(auth) != 16:
        problems.append({"field": "keys.auth", "message": _("This must be a 16-byte secret.")})
    return problems


async def _json_body(request: Request) -> tuple[object, Response | None]:
    _ = pages(request).gettext(language(request))
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return None, json_error(415, "unsupported_media_type", _("Please send JSON."))
    body = await read_limited(request, MAX_SUBSCRIPTION)
    if body is None:
        return None, json_error(413, "too_large", _("This is too large."))
    parsed, data = parse_json(body)
    if not parsed:
        return None, json_error(400, "malformed_json", _("This is not valid JSON."))
    return data, None


@guarded(api=True)
async def subscribe(request: Request, current: Current, form: dict[str, str]) -> Response:
    data, error = await _json_body(request)
    if error is not None:
        return error
    running = haven.of(request)
    _ = pages(request).gettext(language(request))
    problems = subscription_problems(data, running.push.services, _)
    if problems:
        return JSONResponse(
            {
                "error": "invalid",
                "message": _("This is not a push subscription."),
                "errors": problems,
            },
            status_code=422,
            headers=NO_STORE,
        )
    assert isinstance(data, dict)
    moment = now(request)
    await save_subscription(
        running.db,
        advisor_id=current.advisor.id,
        endpoint=data["endpoint"],
        p256dh=data["keys"]["p256dh"],
        auth=data["keys"]["auth"],
        now=moment,
    )
    await audit(running.db, now=moment, advisor_id=current.advisor.id, action="push_subscribe")
    return JSONResponse({"subscribed": True}, status_code=201, headers=NO_STORE)


@guarded(api=True)
async def unsubscribe(request: Request, current: Current, form: dict[str, str]) -> Response:
    data, error = await _json_body(request)
    if error is not None:
        return error
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    _ = pages(request).gettext(language(request))
    if not isinstance(endpoint, str) or not endpoint:
        return json_error(422, "invalid", _("Please send the subscription's endpoint."))
    running = haven.of(request)
    removed = await remove_subscription(
        running.db, advisor_id=current.advisor.id, endpoint=endpoint
    )
    await audit(
        running.db, now=now(request), advisor_id=current.advisor.id, action="push_unsubscribe"
    )
    return JSONResponse({"subscribed": False, "removed": removed}, headers=NO_STORE)


def routes() -> list[Route]:
    """The advisors' JSON routes, mounted at ``/advisor/api``."""
    return [
        Route("/requests", list_requests, name="advisor_api_requests"),
        Route("/requests/{reference}", one_request, name="advisor_api_request"),
        Route("/push-key", push_key, name="advisor_api_push_key"),
        Route("/push-subscription", subscribe, methods=["POST"], name="advisor_api_subscribe"),
        Route(
            "/push-subscription/remove",
            unsubscribe,
            methods=["POST"],
            name="advisor_api_unsubscribe",
        ),
    ]
