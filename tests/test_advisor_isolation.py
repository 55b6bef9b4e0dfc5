"""Nobody sees what their role does not allow: the isolation matrix."""

from __future__ import annotations

import pytest
from advisors import COORDINATOR, PAGASA, PAYOKE, SURYA, Desk
from conftest import sqlite_only
from starlette.routing import Route

# Every advisor route, with how it is reached. {ref} is a request of PAYOKE.
PAGES_GET = ["/advisor/", "/advisor/requests/{ref}", "/advisor/audit", "/advisor/stats"]
PAGES_POST = [
    ("/advisor/requests/{ref}/contact", {"note": "called"}),
    ("/advisor/requests/{ref}/transfer", {"to_centre": "surya", "note": "closer to home"}),
    ("/advisor/requests/{ref}/close", {"outcome": "supported"}),
    ("/advisor/requests/{ref}/note", {"note": "a note"}),
    ("/advisor/logout", {}),
]
JSON_GET = ["/advisor/api/requests", "/advisor/api/requests/{ref}", "/advisor/api/push-key"]
JSON_POST = [
    ("/advisor/api/push-subscription", {"endpoint": "https://push.example/x", "keys": {}}),
    ("/advisor/api/push-subscription/remove", {"endpoint": "https://push.example/x"}),
]
# Not behind a sign-in: the form itself, and the files the dashboard loads.
PUBLIC = {
    "/advisor/login",
    "/advisor/assets/advisor.css",
    "/advisor/assets/advisor.js",
    "/advisor/sw.js",
}
FOREIGN_ID_ROUTES = [path for path in PAGES_GET if "{ref}" in path] + [
    path for path, _ in PAGES_POST if "{ref}" in path
]


def _templates(desk: Desk) -> set[str]:
    paths = set()
    for route in desk.app.routes:
        if isinstance(route, Route) and route.path.startswith("/advisor/"):
            paths.add(route.path.replace("{reference}", "{ref}").replace("{action}", "contact"))
    return paths


@sqlite_only
def test_the_matrix_covers_every_advisor_route(desk: Desk) -> None:
    covered = {*PAGES_GET, *(p for p, _ in PAGES_POST), *JSON_GET, *(p for p, _ in JSON_POST)}
    assert _templates(desk) - PUBLIC <= covered


@sqlite_only
def test_signed_out_pages_go_to_the_login_form(desk: Desk) -> None:
    ref = desk.send("payoke")
    for path in PAGES_GET:
        url = path.format(ref=ref)
        response = desk.get(None, url)
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/advisor/login?next=/advisor/"), url
    for path, data in PAGES_POST:
        response = desk.post(None, path.format(ref=ref), data, token=None)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/advisor/login"), path


@sqlite_only
def test_signed_out_json_is_401(desk: Desk) -> None:
    ref = desk.send("payoke")
    for path in JSON_GET:
        response = desk.get(None, path.format(ref=ref))
        assert response.status_code == 401, path
        assert response.json()["error"] == "unauthenticated"
    for path, body in JSON_POST:
        response = desk.post_json(None, path, body, token=None)
        assert response.status_code == 401, path


@pytest.mark.parametrize("outsider", [PAGASA, SURYA])
def test_another_centre_gets_404_on_every_route_for_the_request(desk: Desk, outsider: str) -> None:
    ref = desk.send("payoke", situation="only for payoke")
    for path in FOREIGN_ID_ROUTES:
        url = path.format(ref=ref)
        if path in PAGES_GET:
            response = desk.get(outsider, url)
        else:
            data = dict(next(d for p, d in PAGES_POST if p == path))
            response = desk.post(outsider, url, data)
        assert response.status_code == 404, url
        assert "only for payoke" not in response.text
    response = desk.get(outsider, f"/advisor/api/requests/{ref}")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    # Nor does it show in their lists, in any status.
    for status in ("open", "new", "all"):
        assert ref not in desk.get(outsider, f"/advisor/?status={status}").text
        listed = desk.get(outsider, f"/advisor/api/requests?status={status}").json()["requests"]
        assert ref not in {item["reference"] for item in listed}
    # Nothing was changed by their attempts.
    own = desk.get(PAYOKE, f"/advisor/api/requests/{ref}").json()
    assert own["status"] == "new" and own["centre"] == "payoke" and own["events"] == []


def test_the_centre_itself_and_the_coordinator_see_it(desk: Desk) -> None:
    ref = desk.send("payoke")
    assert desk.get(PAYOKE, f"/advisor/requests/{ref}").status_code == 200
    assert desk.get(COORDINATOR, f"/advisor/requests/{ref}").status_code == 200
    assert desk.get(COORDINATOR, f"/advisor/api/requests/{ref}").status_code == 200


def test_unknown_requests_are_only_for_coordinators(desk: Desk) -> None:
    ref = desk.send("unknown")
    for advisor in (PAYOKE, PAGASA, SURYA):
        assert desk.get(advisor, f"/advisor/requests/{ref}").status_code == 404
        assert ref not in desk.get(advisor, "/advisor/?status=all").text
    assert ref in desk.get(COORDINATOR, "/advisor/?centre=unknown").text


@sqlite_only
def test_coordinator_pages_are_404_for_advisors(desk: Desk) -> None:
    for path in ("/advisor/audit", "/advisor/stats"):
        assert desk.get(PAYOKE, path).status_code == 404
        assert desk.get(COORDINATOR, path).status_code == 200


def test_an_advisor_cannot_widen_their_scope_with_a_centre_filter(desk: Desk) -> None:
    desk.send("surya")
    assert desk.get(PAYOKE, "/advisor/?centre=surya").status_code == 400
    assert desk.get(PAYOKE, "/advisor/api/requests?centre=surya").status_code == 400


@sqlite_only
def test_unknown_references_and_paths_are_404(desk: Desk) -> None:
    assert desk.get(PAYOKE, "/advisor/requests/HV-2222-2222").status_code == 404
    assert desk.get(PAYOKE, "/advisor/requests/<script>").status_code == 404
    assert desk.get(PAYOKE, "/advisor/api/requests/nothing").status_code == 404
    response = desk.post(PAYOKE, "/advisor/requests/HV-2222-2222/delete", {})
    assert response.status_code == 404


@sqlite_only
def test_advisor_responses_are_never_stored(desk: Desk) -> None:
    ref = desk.send("payoke")
    for url in ("/advisor/", f"/advisor/requests/{ref}", "/advisor/api/requests", "/advisor/login"):
        response = desk.get(PAYOKE, url)
        assert response.headers["cache-control"] == "no-store", url
        assert "etag" not in response.headers
        # Not no-referrer: browsers would then send "Origin: null" on form posts.
        assert response.headers["referrer-policy"] == "same-origin"
    assert desk.get(None, "/advisor/").headers["cache-control"] == "no-store"
