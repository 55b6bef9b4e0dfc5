import logging
import re

import pytest
from starlette.testclient import TestClient

from server.content import PAGE_PATHS
from server.i18n import LANGUAGES

QUESTIONS = ["forced", "pay", "sick", "threats", "watched", "papers", "stuck"]


def test_healthz(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("accept", "target"), [("nl-BE,nl;q=0.9", "/nl/"), ("de", "/de/"), ("ja", "/en/"), ("", "/en/")]
)
def test_root_negotiates_and_redirects(client, accept: str, target: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/", headers={"Accept-Language": accept}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == target
    assert "Accept-Language" in response.headers["vary"]


def test_language_without_slash_redirects(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/fr", follow_redirects=False)
    assert response.status_code == 301 and response.headers["location"] == "/fr/"


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("key", PAGE_PATHS)
def test_every_page_renders(client, lang: str, key: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"/{lang}/{PAGE_PATHS[key]}")
    assert response.status_code == 200
    html = response.text
    direction = "rtl" if lang == "ar" else "ltr"
    assert f'<html lang="{lang}" dir="{direction}">' in html
    # The language link leads to the picker on the start page, which names
    # each language in its own words and marks its language.
    if key == "home":
        assert 'class="language-link" href="#languages"' in html
        for other, language in LANGUAGES.items():
            assert f'lang="{other}" data-language="{other}"' in html
            assert f">{language.name}</a>" in html
    else:
        assert f'class="language-link" href="/{lang}/#languages"' in html
        assert 'id="languages"' not in html
    # One exit button, one exit skip link (the first thing focus reaches), one status.
    assert html.count("data-quick-exit ") == 1
    assert html.count("data-quick-exit-link") == 1
    assert html.index("data-quick-exit-link") < html.index("data-quick-exit ")
    assert html.count("data-quick-exit-status") == 1
    assert 'href="tel:101"' in html and 'href="tel:112"' in html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_centres_are_listed_with_their_numbers(client, lang: str) -> None:  # type: ignore[no-untyped-def]
    for path in ("p/5", "p/7"):
        html = client.get(f"/{lang}/{path}").text
        for tel in ("tel:+3225116464", "tel:+3232011690", "tel:+3242324030", "tel:078055800"):
            assert f'href="{tel}"' in html


def test_unknown_pages_are_404_in_the_language_asked(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/nl/p/42", "/nl/nothing", "/xx/", "/static/../server/app.py"):
        response = client.get(path, headers={"Accept-Language": "nl"})
        assert response.status_code == 404, path
        assert 'lang="nl"' in response.text
        assert response.headers["cache-control"] == "no-store"


def answers(yes: int) -> dict[str, str]:
    return {f"q-{qid}": ("yes" if index < yes else "no") for index, qid in enumerate(QUESTIONS)}


@pytest.mark.parametrize("yes", range(8))
def test_self_check_scoring_without_javascript(client, yes: int) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/en/q", data=answers(yes))
    assert response.status_code == 200
    expected = "result-likely" if yes >= 2 else "result-unlikely"
    other = "result-unlikely" if yes >= 2 else "result-likely"
    assert re.search(rf'id="{expected}" data-result="{expected}" tabindex="-1">', response.text)
    assert re.search(rf'id="{other}" data-result="{other}" tabindex="-1" hidden>', response.text)


def test_unanswered_questions_count_as_no(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/de/q", data={"q-papers": "yes"})
    assert 'id="result-unlikely" data-result="result-unlikely" tabindex="-1">' in response.text


def test_self_check_answers_are_not_kept(client, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    response = client.post("/en/q", data=answers(7))
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers
    assert "yes" not in caplog.text and "q-forced" not in caplog.text
    assert "checked" not in response.text.split("<form", 1)[1].split("</form>", 1)[0]


@pytest.mark.parametrize(
    "body",
    [
        "q-forced=maybe",
        "q-forced=yes&q-forced=no",
        "q-unknown=yes",
        "%ff%fe=\xff",
    ],
)
def test_bad_self_check_input_gets_a_clear_error(client, body: str) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/fr/q",
        content=body.encode("latin-1"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert 'role="alert"' in response.text
    assert 'lang="fr"' in response.text
    assert "Please answer" not in response.text  # the French text, not the English


def test_self_check_body_is_limited(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/en/q", content=b"q-forced=yes&" + b"x" * 10000)
    assert response.status_code == 413


def test_page_methods_are_limited(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/en/p/1")
    assert response.status_code == 405
    assert "<h1>" in response.text


HELP_FORM = {
    "centre": "surya",
    "channel": "sms",
    "contact": "+32 470 12 34 56",
    "situation": "no-js-marker-7f3a",
    "consent": "yes",
}


def test_help_form_without_javascript_is_sealed_and_stored(app_session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app_session, base_url="http://127.0.0.1") as client:
        first = client.post("/fr/p/7", data=HELP_FORM)
        again = client.post("/fr/p/7", data=HELP_FORM)
    assert first.status_code == 201 and again.status_code == 200
    reference = re.search(r"HV-[A-Z0-9-]+", first.text)
    assert reference and reference[0] in again.text  # a resubmitted form is the same request
    assert first.headers["cache-control"] == "no-store"
    data_dir = app_session.state.haven.settings.data_dir
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert b"no-js-marker-7f3a" not in path.read_bytes(), path


def test_help_form_errors_are_shown_next_to_the_fields(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/nl/p/7", data={"channel": "call", "contact": "<b>x</b>"})
    assert response.status_code == 400
    html = response.text
    for field in ("centre", "contact", "consent"):
        error = re.search(rf'data-error-for="{field}">([^<]+)</p>', html)
        assert error, field
    assert "Please" not in html.split('id="help-form"', 1)[1].split("</form>", 1)[0]
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
