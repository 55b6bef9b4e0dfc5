from pathlib import Path

import pytest

from server.settings import DEFAULT_EXIT_URL, Settings


def test_defaults() -> None:
    settings = Settings.from_environ({})
    assert settings.data_dir == Path("./data")
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.base_url == ""
    assert settings.exit_url == DEFAULT_EXIT_URL
    assert settings.exit_url.startswith("https://")


def test_environment_overrides() -> None:
    settings = Settings.from_environ(
        {
            "HAVEN_DATA_DIR": "/srv/haven",
            "HAVEN_HOST": "0.0.0.0",
            "HAVEN_PORT": "9000",
            "HAVEN_BASE_URL": "https://example.org/",
            "HAVEN_EXIT_URL": "https://weather.example/",
            "HAVEN_FORWARDED_ALLOW_IPS": "10.0.0.1, 10.0.0.2",
            "HAVEN_LOG_LEVEL": "WARNING",
            "HAVEN_HSTS_SECONDS": "0",
        }
    )
    assert settings.data_dir == Path("/srv/haven")
    assert settings.port == 9000
    assert settings.base_url == "https://example.org"
    assert settings.forwarded_allow_ips == ("10.0.0.1", "10.0.0.2")
    assert settings.log_level == "warning"
    assert settings.hsts_seconds == 0


def test_bad_port_is_an_error() -> None:
    with pytest.raises(ValueError, match="HAVEN_PORT"):
        Settings.from_environ({"HAVEN_PORT": "eighty"})


@pytest.mark.parametrize(
    "url",
    ["http://weather.example/", "javascript:alert(1)", "https://", "//weather.example", "ftp://x/"],
)
def test_exit_url_must_be_a_real_https_site(url: str) -> None:
    with pytest.raises(ValueError, match="HAVEN_EXIT_URL"):
        Settings.from_environ({"HAVEN_EXIT_URL": url})


def test_exit_url_may_be_plain_http_on_loopback() -> None:
    assert Settings.from_environ({"HAVEN_EXIT_URL": "http://127.0.0.1:8001/"}).exit_url


def test_no_push_services_are_listed_by_default() -> None:
    assert Settings.from_environ({}).push_services == ()


def test_push_services_are_origins_written_one_way() -> None:
    settings = Settings.from_environ(
        {
            "HAVEN_PUSH_SERVICES": (
                " HTTPS://Push.Example.org:443/ , http://127.0.0.1:8123,,"
                "http://localhost:9000, http://[::1]:8124, https://push.example.org"
            )
        }
    )
    assert settings.push_services == (
        "https://push.example.org",
        "http://127.0.0.1:8123",
        "http://localhost:9000",
        "http://[::1]:8124",
    )


@pytest.mark.parametrize(
    "value",
    [
        "http://push.example.org",  # plain HTTP off this computer
        "http://10.0.0.1:8123",
        "ftp://push.example.org",
        "push.example.org",
        "https://push.example.org/wpush",  # a path: an origin was meant
        "https://push.example.org?x=1",
        "https://user:secret@push.example.org",
        "https://push.example.org:99999",
        "https://push.example.org:",
        "https://push%2eexample.org",
        "https://[::1",
        "https://",
    ],
)
def test_bad_push_services_are_an_error(value: str) -> None:
    with pytest.raises(ValueError, match="HAVEN_PUSH_SERVICES"):
        Settings.from_environ({"HAVEN_PUSH_SERVICES": f"https://fine.example, {value}"})
