"""The dashboard: the inbox in due order, a request opened, actions, audit, statistics."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from advisors import COORDINATOR, PAGASA, PAYOKE, SURYA, Desk
from conftest import sqlite_only
from helpers import wait_for

from server.storage.cases import Scope, list_cases

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def listen(desk: Desk) -> Callable[[], list[str]]:
    """The centres the push queue holds notifications for, with its sending stopped."""
    desk.client.portal.call(desk.app.state.haven.push.queue.stop)  # type: ignore[union-attr]

    def told() -> list[str]:
        return [row[0] for row in desk.rows("select centre from push_outbox order by id")]

    return told


def _references(html: str) -> list[str]:
    return re.findall(r'data-reference="(HV-[A-Z0-9-]+)"', html)


def _at(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=dt.UTC)


def test_inbox_lists_the_centres_requests_due_first(desk: Desk) -> None:
    # Received Wed 25, Thu 26, Fri 27 November: due Thu 26, Fri 27, Mon 30.
    friday = desk.send("payoke", received_at=_at(27))
    wednesday = desk.send("payoke", received_at=_at(25))
    thursday = desk.send("payoke", received_at=_at(26))
    desk.send("surya", received_at=_at(25))
    page = desk.get(PAYOKE, "/advisor/").text
    assert _references(page) == [wednesday, thursday, friday]
    # Today is Monday 30 November.
    row = page.split(f'data-reference="{wednesday}"')[1].split("</tr>")[0]
    assert "overdue by 4 days" in row and "overdue" in row
    assert "is-overdue" in page.split(f'data-reference="{wednesday}"')[0].rsplit("<tr", 1)[1]
    assert "overdue by 3 days" in page.split(f'data-reference="{thursday}"')[1].split("</tr>")[0]
    assert ">today<" in page.split(f'data-reference="{friday}"')[1].split("</tr>")[0]
    assert "Phone call" in page  # the channel, read from the opened envelope


def test_due_dates_in_the_future(desk: Desk) -> None:
    reference = desk.send("payoke")  # Monday: due Tuesday
    page = desk.get(PAYOKE, "/advisor/").text
    assert "tomorrow" in page.split(f'data-reference="{reference}"')[1].split("</tr>")[0]
    desk.clock.advance(days=-3)  # seen from the Friday before
    page = desk.get(PAYOKE, "/advisor/").text
    assert "in 4 days" in page.split(f'data-reference="{reference}"')[1].split("</tr>")[0]


def test_status_filters_and_counts(desk: Desk) -> None:
    new = desk.send("payoke")
    contacted = desk.send("payoke")
    closed = desk.send("payoke")
    assert desk.post(PAYOKE, f"/advisor/requests/{contacted}/contact").status_code == 303
    assert (
        desk.post(PAYOKE, f"/advisor/requests/{closed}/close", {"outcome": "no_answer"}).status_code
        == 303
    )
    page = desk.get(PAYOKE, "/advisor/").text
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', page))
    assert counts == {"open": "2", "new": "1", "contacted": "1", "closed": "1", "all": "3"}
    assert set(_references(page)) == {new, contacted}
    assert _references(desk.get(PAYOKE, "/advisor/?status=new").text) == [new]
    assert _references(desk.get(PAYOKE, "/advisor/?status=contacted").text) == [contacted]
    assert _references(desk.get(PAYOKE, "/advisor/?status=closed").text) == [closed]
    assert len(_references(desk.get(PAYOKE, "/advisor/?status=all").text)) == 3


@sqlite_only
def test_bad_filters_get_a_clear_400(desk: Desk) -> None:
    for query in ("status=deleted", "page=0", "page=abc", "page=99999999"):
        response = desk.get(PAYOKE, f"/advisor/?{query}")
        assert response.status_code == 400, query
        assert 'class="error"' in response.text
        api = desk.get(PAYOKE, f"/advisor/api/requests?{query}")
        assert api.status_code == 400 and api.json()["error"] == "invalid_query"


def test_pages_of_fifty(desk: Desk) -> None:
    for _ in range(51):
        desk.send("surya")
    first = desk.get(SURYA, "/advisor/").text
    assert len(_references(first)) == 50 and 'rel="next"' in first
    second = desk.get(SURYA, "/advisor/?page=2").text
    assert len(_references(second)) == 1 and 'rel="prev"' in second
    assert not set(_references(first)) & set(_references(second))
    api = desk.get(SURYA, "/advisor/api/requests").json()
    assert len(api["requests"]) == 50 and api["next_page"] == 2


def test_a_request_shows_everything_the_person_gave_as_text(desk: Desk) -> None:
    reference = desk.send(
        "payoke",
        lang="fr",
        name=XSS,
        situation=f"line one\n{XSS}",
        times="after 18:00",
        add_check="yes",
        **{"q-forced": "yes", "q-pay": "no"},
    )
    page = desk.get(PAYOKE, f"/advisor/requests/{reference}").text
    assert XSS not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "after 18:00" in page and "0470 12 34 56" in page
    assert "Self-check answers" in page
    api = desk.get(PAYOKE, f"/advisor/api/requests/{reference}").json()
    assert api["fields"]["name"] == XSS and api["readable"] is True
    assert api["language"] == "fr"


def test_contact_made_with_a_note(desk: Desk) -> None:
    reference = desk.send("payoke")
    response = desk.post(
        PAYOKE, f"/advisor/requests/{reference}/contact", {"note": "Spoke <b>briefly</b>"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/advisor/requests/{reference}?done=contact"
    page = desk.get(PAYOKE, response.headers["location"]).text
    assert "Contact recorded." in page and "Spoke &lt;b&gt;briefly&lt;/b&gt;" in page
    state = desk.get(PAYOKE, f"/advisor/api/requests/{reference}").json()
    assert state["status"] == "contacted"
    assert state["first_contact_at"] == desk.clock().isoformat()
    assert state["events"][0]["kind"] == "contact"
    assert state["events"][0]["note"] == "Spoke <b>briefly</b>"


def test_notes_are_sealed_in_the_database(desk: Desk) -> None:
    reference = desk.send("payoke")
    marker = "NOTE-MARKER-8841"
    desk.post(PAYOKE, f"/advisor/requests/{reference}/note", {"note": f"remember {marker}"})
    assert desk.get(PAYOKE, f"/advisor/api/requests/{reference}").json()["events"][0]["note"] == (
        f"remember {marker}"
    )
    for path in desk.data_dir.iterdir():
        assert marker.encode() not in path.read_bytes(), path
    assert marker not in desk.dump()


def test_transfer_moves_it_and_tells_the_other_centre(desk: Desk) -> None:
    told = listen(desk)
    reference = desk.send("payoke")
    assert told() == ["payoke"]  # the new request's, written with it
    response = desk.post(
        PAYOKE,
        f"/advisor/requests/{reference}/transfer",
        {"to_centre": "surya", "note": "lives in Liège"},
    )
    assert response.status_code == 303 and response.headers["location"] == "/advisor/?done=transfer"
    wait_for(lambda: told() == ["payoke", "surya"])
    assert desk.get(PAYOKE, f"/advisor/requests/{reference}").status_code == 404
    page = desk.get(SURYA, f"/advisor/requests/{reference}").text
    assert "Transferred from PAYOKE to SÜRYA" in page and "lives in Liège" in page
    # The envelope still opens: it stays bound to the centre it was sealed for.
    assert desk.get(SURYA, f"/advisor/api/requests/{reference}").json()["readable"] is True


def test_transfer_needs_a_centre_and_a_reason(desk: Desk) -> None:
    reference = desk.send("payoke")
    url = f"/advisor/requests/{reference}/transfer"
    response = desk.post(PAYOKE, url, {"to_centre": "", "note": ""})
    assert response.status_code == 400
    assert "Please choose the centre it should go to." in response.text
    assert "Please say why it goes to the other centre." in response.text
    response = desk.post(PAYOKE, url, {"to_centre": "payoke", "note": "x"})
    assert response.status_code == 400 and "already with this centre" in response.text
    response = desk.post(PAYOKE, url, {"to_centre": "unknown", "note": "x"})
    assert response.status_code == 400
    response = desk.post(PAYOKE, url, {"to_centre": "surya", "note": "y" * 4001})
    assert response.status_code == 400 and "4000 characters" in response.text
    assert "y" * 4001 in response.text  # what was typed is kept
    assert desk.get(PAYOKE, f"/advisor/api/requests/{reference}").json()["events"] == []


def test_close_with_an_outcome_then_nothing_more(desk: Desk) -> None:
    reference = desk.send("payoke")
    url = f"/advisor/requests/{reference}/close"
    assert desk.post(PAYOKE, url, {"outcome": "maybe"}).status_code == 400
    assert (
        desk.post(PAYOKE, url, {"outcome": "referred", "note": "sent to a lawyer"}).status_code
        == 303
    )
    state = desk.get(PAYOKE, f"/advisor/api/requests/{reference}").json()
    assert state["status"] == "closed" and state["outcome"] == "referred"
    page = desk.get(PAYOKE, f"/advisor/requests/{reference}").text
    assert "Referred elsewhere" in page and 'id="action-contact"' not in page
    response = desk.post(PAYOKE, f"/advisor/requests/{reference}/note", {"note": "late"})
    assert response.status_code == 409 and "This request is closed." in response.text


def test_a_coordinator_routes_the_unknown_queue(desk: Desk) -> None:
    told = listen(desk)
    reference = desk.send("unknown")
    assert told() == ["unknown"]
    page = desk.get(COORDINATOR, "/advisor/?centre=unknown").text
    assert _references(page) == [reference]
    response = desk.post(
        COORDINATOR,
        f"/advisor/requests/{reference}/transfer",
        {"to_centre": "pag-asa", "note": "postcode 1000"},
    )
    # The coordinator still sees it, now with PAG-ASA.
    assert response.headers["location"] == f"/advisor/requests/{reference}?done=transfer"
    wait_for(lambda: told() == ["unknown", "pag-asa"])
    assert desk.get(PAGASA, f"/advisor/requests/{reference}").status_code == 200
    assert _references(desk.get(COORDINATOR, "/advisor/?centre=unknown").text) == []


def test_every_view_and_action_is_audited_without_content(desk: Desk) -> None:
    reference = desk.send("payoke", situation="AUDIT-SECRET")
    desk.get(PAYOKE, "/advisor/")
    desk.get(PAYOKE, f"/advisor/requests/{reference}")
    desk.post(PAYOKE, f"/advisor/requests/{reference}/contact", {"note": "NOTE-SECRET"})
    desk.get(PAYOKE, f"/advisor/api/requests/{reference}")
    page = desk.get(COORDINATOR, "/advisor/audit").text
    rows = re.findall(r"<tr><td>.*?</tr>", page)
    actions = [re.findall(r"<td>(.*?)</td>", row) for row in rows]
    mine = [row[1:4] for row in actions if row[1] == PAYOKE]
    assert [PAYOKE, "api_request", reference] in mine
    assert [PAYOKE, "contact", reference] in mine
    assert [PAYOKE, "view_request", reference] in mine
    assert [PAYOKE, "view_inbox", ""] in mine
    assert [PAYOKE, "login", ""] in mine
    assert "AUDIT-SECRET" not in page and "NOTE-SECRET" not in page
    dump = desk.dump()
    assert "AUDIT-SECRET" not in dump and "NOTE-SECRET" not in dump


def test_statistics_per_week_contact_share_and_median(desk: Desk) -> None:
    # Two PAYOKE requests last week (due Tue 24 and Wed 25 November); one
    # contacted on time after 6 hours, the other late after 50 hours.
    on_time = desk.send("payoke", received_at=_at(23, 9))
    late = desk.send("payoke", received_at=_at(24, 9))
    desk.send("surya", received_at=_at(30, 8))
    saved = desk.clock.now
    desk.clock.now = _at(23, 15)
    desk.post(PAYOKE, f"/advisor/requests/{on_time}/contact")
    desk.clock.now = _at(26, 11)
    desk.post(PAYOKE, f"/advisor/requests/{late}/contact")
    desk.clock.now = saved
    desk.sign_in(COORDINATOR)  # the clock jumped about: start a fresh session
    page = desk.get(COORDINATOR, "/advisor/stats").text
    main = page.split("<main", 1)[1]
    assert "<svg" in main and "<rect" in main and "<script" not in main
    assert re.search(r"<title>PAYOKE, 23 Nov: 2</title>", page)
    assert re.search(r"<title>SÜRYA, 30 Nov: 1</title>", page)
    assert re.search(r'data-share="payoke">50 %<', page)
    assert re.search(r'data-median="payoke">28.0 h<', page)  # (6 + 50) / 2
    assert re.search('data-share="surya">\u2013<', page)  # due tomorrow: not counted yet
    assert desk.get(PAYOKE, "/advisor/stats").status_code == 404


def test_list_query_stays_in_scope(desk: Desk) -> None:
    desk.send("payoke")
    desk.send("surya")

    async def rows() -> tuple[int, int]:
        scoped = await list_cases(desk.app.state.haven.db, Scope("payoke"), status=None)
        everything = await list_cases(desk.app.state.haven.db, Scope(None), status=None)
        return len(scoped), len(everything)

    assert desk.client.portal.call(rows) == (1, 2)  # type: ignore[union-attr]


@sqlite_only
def test_the_dashboard_speaks_dutch_and_french(desk: Desk) -> None:
    from server.i18n import translations

    reference = desk.send("payoke", received_at=_at(25))
    for header, code in (("nl-BE,nl;q=0.9", "nl"), ("fr-BE", "fr"), ("de-DE", "en")):
        catalogue = translations(code, "advisor")
        page = desk.get(PAYOKE, "/advisor/", headers={"Accept-Language": header}).text
        assert f'<html lang="{code}">' in page
        for text in ("Sign out", "Contact by"):
            assert catalogue.gettext(text) in page
        overdue = catalogue.ngettext("overdue by %(num)d day", "overdue by %(num)d days", 4)
        assert overdue % {"num": 4} in page
    assert (
        "en retard de 4 jours"
        in desk.get(
            PAYOKE, f"/advisor/requests/{reference}", headers={"Accept-Language": "fr"}
        ).text
    )
