"""Client identity: forwarded headers count only from TRUSTED_PROXIES, right-most untrusted hop."""

from __future__ import annotations

import pytest
from starlette.types import Receive, Scope, Send

from .asgi import exchange
from .conftest import SettingsFactory
from .service import apply_security

pytestmark = pytest.mark.anyio

PROXY = "10.0.0.5"


async def echo_client(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the client address the layers settled on."""
    body = str(scope["client"][0]).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def seen_client(
    make_settings: SettingsFactory,
    headers: list[tuple[str, str]],
    peer: str,
    **settings: str,
) -> str:
    app = apply_security(echo_client, make_settings(**settings))
    result = await exchange(app, method="GET", path="/", headers=headers, client=(peer, 1234))
    return result.body.decode()


@pytest.mark.parametrize(
    "headers",
    [
        [("x-forwarded-for", "1.2.3.4")],
        [("x-forwarded-for", "1.2.3.4, 5.6.7.8")],
        [("forwarded", "for=1.2.3.4")],
        [("x-real-ip", "1.2.3.4")],
    ],
)
async def test_spoofed_headers_from_untrusted_peer_change_nothing(
    make_settings: SettingsFactory, headers: list[tuple[str, str]]
) -> None:
    # No proxies trusted (the default), and a proxy list that excludes this peer.
    assert await seen_client(make_settings, headers, "203.0.113.9") == "203.0.113.9"
    assert (
        await seen_client(make_settings, headers, "203.0.113.9", trusted_proxies="10.0.0.0/8")
        == "203.0.113.9"
    )


async def test_trusted_proxy_gives_the_right_most_untrusted_hop(
    make_settings: SettingsFactory,
) -> None:
    # The client forged "6.6.6.6"; the proxy appended the real peer 198.51.100.7.
    headers = [("x-forwarded-for", "6.6.6.6, 198.51.100.7")]
    seen = await seen_client(make_settings, headers, PROXY, trusted_proxies="10.0.0.0/8")
    assert seen == "198.51.100.7"


async def test_chain_of_trusted_proxies_is_skipped(make_settings: SettingsFactory) -> None:
    headers = [("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.9")]
    seen = await seen_client(make_settings, headers, PROXY, trusted_proxies="10.0.0.0/8")
    assert seen == "198.51.100.7"


async def test_several_header_lines_are_one_list(make_settings: SettingsFactory) -> None:
    headers = [("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.7")]
    seen = await seen_client(make_settings, headers, PROXY, trusted_proxies="10.0.0.5")
    assert seen == "198.51.100.7"


async def test_garbled_hop_falls_back_to_the_nearest_trusted_address(
    make_settings: SettingsFactory,
) -> None:
    headers = [("x-forwarded-for", "1.2.3.4, not-an-ip")]
    seen = await seen_client(make_settings, headers, PROXY, trusted_proxies="10.0.0.0/8")
    assert seen == PROXY


async def test_forwarded_header_when_configured(make_settings: SettingsFactory) -> None:
    headers = [
        ("forwarded", 'for=6.6.6.6, for="[2001:db8::1]:4711";proto=https'),
        ("x-forwarded-for", "9.9.9.9"),  # not the configured header: ignored
    ]
    seen = await seen_client(
        make_settings, headers, PROXY, trusted_proxies="10.0.0.0/8", forwarded_header="forwarded"
    )
    assert seen == "2001:db8::1"


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "example.com", "10.0.0.1/8/9"])
def test_bad_proxy_setting_is_refused(make_settings: SettingsFactory, bad: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not an IP address or CIDR"):
        make_settings(trusted_proxies=bad)
