"""``Handshake`` reads a WSGI-style environ (what python-engineio hands over)."""

from __future__ import annotations

from nestpy.websockets import Handshake


def environ(**extra: str) -> dict[str, str]:
    return {
        "QUERY_STRING": "EIO=4&transport=polling&room=a&room=b&empty=",
        "HTTP_X_TENANT": "acme",
        "HTTP_USER_AGENT": "tests",
        "REMOTE_ADDR": "10.1.2.3",
        "RAW_URI": "/socket.io/?EIO=4&transport=polling",
        "wsgi.url_scheme": "http",
        **extra,
    }


def test_headers_query_address_from_the_environ() -> None:
    hs = Handshake(environ(), {"token": "t"})
    assert hs.headers["x-tenant"] == "acme" and hs.headers["user-agent"] == "tests"
    assert hs.query == {"EIO": "4", "transport": "polling", "room": "a", "empty": ""}
    assert hs.address == "10.1.2.3"
    assert hs.auth == {"token": "t"}
    assert hs.url == "/socket.io/?EIO=4&transport=polling"
    assert hs.secure is False
    assert Handshake(environ(**{"wsgi.url_scheme": "https"}), None).secure is True


def test_auth_is_always_a_dict() -> None:
    assert Handshake(environ(), None).auth == {}
    assert Handshake(environ(), "a string").auth == {}


def test_time_fields_and_repr() -> None:
    hs = Handshake(environ(), {"b": 1, "a": 2})
    assert isinstance(hs.issued, int) and hs.issued > 1_600_000_000_000
    assert hs.time.endswith("Z") and "T" in hs.time
    assert repr(hs) == "Handshake(address='10.1.2.3', auth_keys=['a', 'b'])"
