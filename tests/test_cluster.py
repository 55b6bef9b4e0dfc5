"""Three `haven serve` instances on one PostgreSQL database, behind the shipped nginx, act as one.

Each instance has a data directory of its own and all share one keys
directory (``HAVEN_KEYS_DIR``) and one database (tests/pg.py); nginx runs
``deploy/nginx.conf`` in front of them (tests/proxy.py). The cross-instance
checks talk to the instances directly, so that each request lands where the
test says; each test counts as a client of its own (``X-Forwarded-For``, which
the instances believe from loopback, as from the proxy), so that the public
rate limit of one does not spill into another's.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from advisors import LiveAdvisor, add_by_command, sealed_request, send_sealed, wrong_sign_in
from conftest import LiveServer, start_server, stop_server
from helpers import wait_for
from pg import Cluster, dump, query
from proxy import Nginx, free_port, have_nginx, start_nginx
from pushservice import FakePushService

from server.push_queue import SWEEP_SECONDS

INSTANCES = 3
RATE = 3  # new requests per client an hour, for all the instances together
SUBSCRIBE = "/advisor/api/push-subscription"

pytestmark = pytest.mark.skipif(not have_nginx(), reason="Debian's nginx is not installed")


@dataclass
class Deployment:
    instances: list[LiveServer]
    nginx: Nginx
    push: FakePushService
    database_url: str
    env: dict[str, str]  # what `haven` commands need to reach the same database and keys


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, neutral_site: str, pg_cluster: Cluster
) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("cluster")
    keys = folder / "keys"
    keys.mkdir(mode=0o700)
    https_port = free_port()
    with pg_cluster.fresh_database() as url, FakePushService() as push:
        shared = {"HAVEN_DATABASE_URL": url, "HAVEN_KEYS_DIR": str(keys)}
        env = {
            **shared,
            "HAVEN_PUSH_SERVICES": push.origin,
            "HAVEN_REQUEST_RATE": f"{RATE}/3600",
            "HAVEN_FORWARDED_ALLOW_IPS": "127.0.0.1",
            "HAVEN_BASE_URL": f"https://127.0.0.1:{https_port}",
            # The default, HAVEN_BASE_URL, has a port here, which VAPID's `sub` may not.
            "HAVEN_PUSH_SUBJECT": "mailto:operator@haven.example",
        }
        instances: list[LiveServer] = []
        try:
            # One after another: the first makes the keys the others read.
            for number in range(INSTANCES):
                instances.append(
                    start_server(
                        folder / f"data-{number}",
                        folder / f"haven-{number}.log",
                        neutral_site,
                        env=env,
                    )
                )
            ports = [int(live.url.rsplit(":", 1)[1]) for live in instances]
            nginx = start_nginx(folder, ports, https_port=https_port)
            try:
                yield Deployment(instances, nginx, push, url, shared)
            finally:
                nginx.stop()
        finally:
            for live in instances:
                stop_server(live)


def client_from(address: str) -> dict[str, str]:
    """The header by which an instance, behind the proxy, knows a client."""
    return {"X-Forwarded-For": address}


def test_a_replay_that_reaches_another_instance_gets_the_same_reference(
    deployment: Deployment,
) -> None:
    first, *others = deployment.instances
    body = sealed_request(first.url)
    headers = {"Idempotency-Key": "replayed-across-instances", **client_from("127.0.0.2")}
    stored = httpx.post(f"{first.url}/api/requests", json=body, headers=headers)
    assert stored.status_code == 201, stored.text
    reference = stored.json()["reference"]
    for other in others:
        again = httpx.post(f"{other.url}/api/requests", json=body, headers=headers)
        assert (again.status_code, again.json()["reference"]) == (200, reference), again.text
    # And through the proxy, whichever instance nginx picks.
    with deployment.nginx.client(http2=True) as phone:
        for _ in range(INSTANCES):
            again = phone.post("/api/requests", json=body, headers=headers)
            assert (again.status_code, again.json()["reference"]) == (200, reference), again.text
    rows = query(
        deployment.database_url,
        "select count(*) from help_requests where reference = $1",
        reference,
    )
    assert rows == [(1,)]


def test_a_session_made_on_one_instance_works_on_the_others(deployment: Deployment) -> None:
    first, *others = deployment.instances
    added = add_by_command(first.data_dir, "anna@payoke.be", "payoke", env=deployment.env)
    assert added.returncode == 0, added.stderr
    anna = LiveAdvisor.sign_in(first.url, "anna@payoke.be")
    try:
        for other in others:
            listed = anna.client.get(f"{other.url}/advisor/api/requests")
            assert listed.status_code == 200, listed.text
        # Without the session, the same page is refused.
        assert httpx.get(f"{others[0].url}/advisor/api/requests").status_code in (401, 303)
    finally:
        anna.close()


def test_the_sign_in_budget_is_shared(deployment: Deployment) -> None:
    added = add_by_command(
        deployment.instances[0].data_dir, "bram@payoke.be", "payoke", env=deployment.env
    )
    assert added.returncode == 0, added.stderr
    statuses = [
        wrong_sign_in(deployment.instances[n % INSTANCES].url, "bram@payoke.be") for n in range(7)
    ]
    # Five tries per account from unknown browsers, not five per instance.
    assert statuses == [400] * 5 + [429] * 2


def test_the_public_rate_limit_is_shared(deployment: Deployment) -> None:
    statuses = []
    for number in range(RATE + INSTANCES):
        live = deployment.instances[number % INSTANCES]
        sent = httpx.post(
            f"{live.url}/api/requests",
            json=sealed_request(live.url),
            headers={"Idempotency-Key": secrets.token_urlsafe(24), **client_from("127.0.0.4")},
        )
        statuses.append(sent.status_code)
    # Three instances each counting alone would have taken nine.
    assert statuses == [201] * RATE + [429] * INSTANCES


def test_each_new_request_makes_one_push_per_device(deployment: Deployment) -> None:
    push, instances = deployment.push, deployment.instances
    devices = []
    for number, email in enumerate(("cas@payoke.be", "dina@payoke.be")):
        live = instances[number]
        added = add_by_command(live.data_dir, email, "payoke", env=deployment.env)
        assert added.returncode == 0, added.stderr
        advisor = LiveAdvisor.sign_in(live.url, email)
        name = email.split("@")[0]
        assert advisor.post_json(SUBSCRIBE, push.subscribe(name)).status_code == 201
        advisor.close()
        devices.append(name)
    before = len(push.received)
    for number in range(INSTANCES):
        send_sealed(instances[number].url, headers=client_from("127.0.0.5"))
    expected = INSTANCES * len(devices)
    push.wait_for(before + expected, timeout=30)
    wait_for(
        lambda: query(deployment.database_url, "select count(*) from push_outbox") == [(0,)],
        message="an empty push queue",
    )
    # Every instance sweeps every few seconds for the others' rows: let each look again.
    time.sleep(2 * SWEEP_SECONDS + 0.5)
    arrived = push.received[before:]
    assert Counter(message.name for message in arrived) == dict.fromkeys(devices, INSTANCES)
    assert all(message.status == 201 for message in arrived)


def test_the_database_has_no_client_address(deployment: Deployment) -> None:
    text = dump(deployment.database_url)
    for address in ("127.0.0.2", "127.0.0.4", "127.0.0.5"):
        assert address not in text
