"""Which endpoints and addresses the push sender may reach (server/push_services.py)."""

from __future__ import annotations

import pytest

from server.push_services import PushServices, is_public_address, origin_of

LISTED = PushServices(["http://127.0.0.1:8123", "https://push.example.org"])


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/abc:def",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://web.push.apple.com/QGz3",
        "https://wns2-par02p.notify.windows.com/w/?token=BQYAAA",
        "https://FCM.googleapis.com:443/fcm/send/x",
        "http://127.0.0.1:8123/push/phone",
        "https://push.example.org/x",
    ],
)
def test_the_browsers_push_services_and_listed_origins_are_allowed(endpoint: str) -> None:
    assert LISTED.allows(endpoint)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/fcm/send/x",  # not https
        "https://fcm.googleapis.com:8443/fcm/send/x",  # not the default port
        "https://fcm.googleapis.com./fcm/send/x",
        "https://fcm.googleapis.com.evil.example/x",
        "https://evilfcm.googleapis.com/x",
        "https://notify.windows.com.evil.example/x",
        "https://evilnotify.windows.com/x",
        "https://push.apple.com/x",  # only the names below it
        "https://fcm.googleapis.com@127.0.0.1/x",
        "https://127.0.0.1\\@fcm.googleapis.com/x",
        "https://fcm.googleapis%2ecom/x",
        "https://fcm.googleapis.com\t/x",
        "https://fcm.googleapis.com /x",
        "https://127.0.0.1:8123/push/phone",  # listed for http, not https
        "http://127.0.0.1:8124/push/phone",  # another port
        "http://127.0.0.1/push/phone",
        "https://push.example.org:444/x",
        "https://localhost/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://2130706433/x",
        "https://0x7f.1/x",
        "wss://fcm.googleapis.com/x",
        "",
    ],
)
def test_anything_else_is_refused(endpoint: str) -> None:
    assert not LISTED.allows(endpoint)


def test_origins_are_compared_written_one_way() -> None:
    assert str(origin_of("HTTPS://Push.Example.ORG:443/a?b")) == "https://push.example.org"
    assert str(origin_of("http://[0:0::1]:8123/")) == "http://[::1]:8123"
    assert origin_of("https://[::1]:8123x/") is None


def test_a_listed_host_may_be_private_only_at_its_own_port() -> None:
    assert LISTED.is_listed_host("127.0.0.1", 8123)
    assert LISTED.is_listed_host("PUSH.example.org", 443)
    assert not LISTED.is_listed_host("127.0.0.1", 8124)
    assert not LISTED.is_listed_host("fcm.googleapis.com", 443)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # the cloud metadata service
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",  # multicast
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        "2002:a00:1::1",  # 6to4 around 10.0.0.1
        "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo around 127.0.0.1
        "not an address",
    ],
)
def test_private_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["142.250.74.138", "2a00:1450:400e:80c::200a", "8.8.8.8"])
def test_public_addresses_are(address: str) -> None:
    assert is_public_address(address)
