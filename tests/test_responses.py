import gzip

import pytest


def test_pages_are_gzipped_with_a_strong_etag(client) -> None:  # type: ignore[no-untyped-def]
    plain = client.get("/en/", headers={"Accept-Encoding": "identity"})
    packed = client.get("/en/", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.text == plain.text  # httpx decodes it
    assert plain.headers["etag"] != packed.headers["etag"]
    for response in (plain, packed):
        assert response.headers["etag"].startswith('"')  # strong, not W/
        assert "Accept-Encoding" in response.headers["vary"]
        assert response.headers["cache-control"] == "no-cache"


def test_gzip_bytes_are_stable(app_session) -> None:  # type: ignore[no-untyped-def]
    representation = app_session.state.haven.site.pages["/en/"]
    assert representation.gzipped is not None
    assert gzip.decompress(representation.gzipped) == representation.body


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_revalidation_answers_304(client, encoding: str) -> None:  # type: ignore[no-untyped-def]
    for path in ("/nl/p/2", "/static/app.css", "/sw.js", "/manifest.webmanifest"):
        first = client.get(path, headers={"Accept-Encoding": encoding})
        etag = first.headers["etag"]
        again = client.get(path, headers={"Accept-Encoding": encoding, "If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == etag
        weak = client.get(path, headers={"Accept-Encoding": encoding, "If-None-Match": f"W/{etag}"})
        assert weak.status_code == 304
        stale = client.get(path, headers={"Accept-Encoding": encoding, "If-None-Match": '"old"'})
        assert stale.status_code == 200 and stale.content == first.content


def test_gzip_refused_with_q0(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/en/", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in response.headers


def test_head_has_no_body(client) -> None:  # type: ignore[no-untyped-def]
    response = client.head("/en/p/1", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) > 1000
