"""schemathesis against a real server: whatever the schema allows or forbids,
the API never answers 5xx, and every answer is the one the schema promises.

The schema is served by the server itself (/api/openapi.json); it names the
inbox keys the server holds, so data it calls valid is data the server takes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from conftest import LiveServer, start_server, stop_server
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

EXAMPLES = 60
HYPOTHESIS_MAX = 8000  # characters in one generated string


@pytest.fixture(scope="module")
def schema_server(
    tmp_path_factory: pytest.TempPathFactory, neutral_site: str
) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("schema")
    # Positive examples are many new requests from one client: lift the limit.
    server = start_server(
        base / "data", base / "server.log", neutral_site, env={"HAVEN_REQUEST_RATE": "100000/1"}
    )
    yield server
    stop_server(server)


def served_schema(server: LiveServer) -> dict[str, Any]:
    """The server's own description, with the ciphertext sizes Hypothesis can make.

    The largest buckets take 10,944 to 43,712 characters, over what Hypothesis
    can generate in one string; the smaller sizes exercise the same rule.
    """
    document: dict[str, Any] = httpx.get(f"{server.url}/api/openapi.json").json()
    ct = document["components"]["schemas"]["Envelope"]["properties"]["ct"]
    ct["anyOf"] = [size for size in ct["anyOf"] if size["maxLength"] <= HYPOTHESIS_MAX]
    assert len(ct["anyOf"]) == 4
    return document


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_the_promises_of_its_schema(
    schema_server: LiveServer, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_dict(served_schema(schema_server))
    strategy = schema.as_strategy(generation_mode=mode)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=strategy)
    def check(case: schemathesis.Case) -> None:
        response = case.call_and_validate(base_url=schema_server.url)
        assert response.status_code < 500

    check()
    assert "Traceback" not in schema_server.log()
