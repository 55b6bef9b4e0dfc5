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
