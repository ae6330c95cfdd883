"""The feed fetcher against a local server: statuses, retries, redirects, deadlines, size caps,
compression and the address guard."""

from __future__ import annotations

import gzip
import time
import zlib

import brotli
import pytest

from feed_fixtures import FAST_FETCH
from feed_server import FeedServer, Reply, Stall
from pipeline.options import Settings, user_agent
from transforms.fetch import FeedClient, FetchError, Validators, public_address, retry_after

@pytest.fixture
def server():
    with FeedServer() as running:
        yield running


@pytest.fixture
def client():
    made = FeedClient(FAST_FETCH)
    yield made
    made.close()


def test_ok_sends_identity_and_returns_validators(server, client):
    server.routes["/feed"] = Reply(200, b"<rss/>", {"ETag": '"v1"', "Last-Modified": "Tue, 03 Mar 2026 08:00:00 GMT",
                                                    "Content-Type": "application/rss+xml; charset=utf-8"})
    response = client.fetch(server.url("/feed"))
    assert (response.status, response.body, response.content_type) == (200, b"<rss/>", "application/rss+xml; charset=utf-8")
    assert response.validators == Validators('"v1"', "Tue, 03 Mar 2026 08:00:00 GMT")
    [request] = server.requests
    assert request.headers["user-agent"] == user_agent()
    assert user_agent().startswith("newsbeam/")
    assert user_agent("ops@example.org").endswith(" (+ops@example.org)")
    assert {"gzip", "deflate", "br"} <= {e.strip() for e in request.headers["accept-encoding"].split(",")}
    assert "if-none-match" not in request.headers


def test_conditional_get_gets_304(server, client):
    def conditional(request):
        if request.headers.get("if-none-match") == '"v1"' and request.headers.get("if-modified-since") == "then":
            return Reply(304, headers={"ETag": '"v1"'})
        return Reply(200, b"<rss/>", {"ETag": '"v1"'})

    server.routes["/feed"] = conditional
    response = client.fetch(server.url("/feed"), Validators('"v1"', "then"))
    assert (response.status, response.body) == (304, b"")


@pytest.mark.parametrize("encode, name", [(gzip.compress, "gzip"), (zlib.compress, "deflate"), (brotli.compress, "br")])
def test_compressed_bodies_are_decoded(server, client, encode, name):
    server.routes["/feed"] = Reply(200, encode(b"<rss>" + b"x" * 5000 + b"</rss>"), {"Content-Encoding": name})
    assert client.fetch(server.url("/feed")).body == b"<rss>" + b"x" * 5000 + b"</rss>"


@pytest.mark.parametrize("status, reason", [
    (404, "the feed is not there (HTTP 404)"),
    (410, "the feed is gone for good (HTTP 410); take it off the list"),
    (403, "the server refuses access (HTTP 403)"),
    (418, "the server answered HTTP 418"),
    (204, "the server answered HTTP 204, not a feed"),
])
def test_error_statuses_are_one_sentence(server, client, status, reason):
    server.routes["/feed"] = Reply(status, b"nope" if status != 204 else b"")
    with pytest.raises(FetchError) as caught:
        client.fetch(server.url("/feed"))
    assert str(caught.value) == reason
    assert server.hits["/feed"] == 1  # client errors are not retried


def test_server_error_then_success_is_retried(server, client):
    server.routes["/feed"] = lambda r: Reply(503) if r.hit < 3 else Reply(200, b"<rss/>")
    assert client.fetch(server.url("/feed")).body == b"<rss/>"
    assert server.hits["/feed"] == 3


def test_server_error_every_time_gives_up(server, client):
    server.routes["/feed"] = Reply(500, b"boom")
    with pytest.raises(FetchError, match=r"the server failed \(HTTP 500\) on all 3 attempts"):
        client.fetch(server.url("/feed"))
    assert server.hits["/feed"] == FAST_FETCH.fetch_retries + 1


def test_retry_after_is_honoured_when_short(server, client):
    waits = []

    def busy(request):
        if request.hit == 1:
            return Reply(429, headers={"Retry-After": "1"})
        waits.append(request)
        return Reply(200, b"<rss/>")

    server.routes["/feed"] = busy
    assert client.fetch(server.url("/feed")).status == 200
    assert server.hits["/feed"] == 2 and len(waits) == 1


def test_retry_after_too_long_is_a_reject_not_a_wait(server, client):
    server.routes["/feed"] = Reply(429, headers={"Retry-After": "3600"})
    with pytest.raises(FetchError, match="asks to retry after 3600 s, longer than the 2 s newsbeam waits"):
        client.fetch(server.url("/feed"))
    assert server.hits["/feed"] == 1


def test_retry_after_forms():
    assert retry_after("120") == 120.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: now
    assert retry_after("soon") is None and retry_after(None) is None


def test_redirects_are_followed_with_a_limit_and_loops_named(server, client):
    server.routes["/old"] = Reply(301, headers={"Location": "/new"})
    server.routes["/new"] = Reply(200, b"<rss/>")
    assert client.fetch(server.url("/old")).url == server.url("/new")
    server.routes["/a"] = Reply(302, headers={"Location": "/b"})
    server.routes["/b"] = Reply(307, headers={"Location": server.url("/a")})
    with pytest.raises(FetchError, match=r"the redirects go round in a loop \(.*/a -> .*/b -> .*/a\)"):
        client.fetch(server.url("/a"))
    for n in range(10):
        server.routes[f"/hop{n}"] = Reply(302, headers={"Location": f"/hop{n + 1}"})
    with pytest.raises(FetchError, match="more than 5 redirects"):
        client.fetch(server.url("/hop0"))
    server.routes["/ftp"] = Reply(302, headers={"Location": "ftp://files.example/feed"})
    with pytest.raises(FetchError, match="not an http or https URL"):
        client.fetch(server.url("/ftp"))


def test_stalled_server_is_left_at_the_deadline(server, client):
    server.routes["/feed"] = stall = Stall(Reply(200, b"<rss/>"))
    with pytest.raises(FetchError, match="did not answer within the 1 s deadline"):
        client.fetch(server.url("/feed"))
    assert stall.answered == []  # the fetch gave up while the server was still stalling
    stall.release()


def test_trickling_body_is_cut_at_the_deadline(server, client):
    server.routes["/feed"] = Reply(200, b"<rss>" + b"x" * 200 + b"</rss>", trickle_seconds=0.05)
    with pytest.raises(FetchError, match="took longer than the 1 s deadline"):
        client.fetch(server.url("/feed"))


def test_headers_sent_a_byte_at_a_time_are_cut_at_the_deadline(server, client):
    """Each read ends within its timeout, so only the deadline stops a server that never finishes
    its headers."""
    server.routes["/feed"] = Reply(header_trickle_seconds=0.05)  # for 10 s, then the server hangs up
    with pytest.raises(FetchError, match="did not answer within the 1 s deadline"):
        client.fetch(server.url("/feed"))
    for _ in range(50):  # the server notices at its next byte
        if server.hung_up:
            break
        time.sleep(0.1)
    assert server.hung_up == ["/feed"]  # the fetch gave up while the server was still sending


def test_size_cap_declared_and_streamed(server, client):
    server.routes["/declared"] = Reply(200, b"x" * 300_000)
    with pytest.raises(FetchError, match=r"the feed is 293 KB, over the 195 KB limit$"):
        client.fetch(server.url("/declared"))
    server.routes["/streamed"] = Reply(200, b"x" * 300_000, chunked=True)
    with pytest.raises(FetchError, match=r"over the 195 KB limit \(after decompression\)"):
        client.fetch(server.url("/streamed"))
    server.routes["/small"] = Reply(200, b"x" * 50_000, chunked=True)
    assert len(client.fetch(server.url("/small")).body) == 50_000


def test_gzip_bomb_stops_at_the_cap(server, client):
    bomb = gzip.compress(b"\0" * 50_000_000)  # 50 MB of zeros in about 50 KB
    server.routes["/bomb"] = Reply(200, bomb, {"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match=r"over the 195 KB limit \(after decompression\)"):
        client.fetch(server.url("/bomb"))


def test_private_addresses_are_refused_by_default(server):
    server.routes["/feed"] = Reply(200, b"<rss/>")
    guarded = FeedClient(Settings(fetch_deadline_seconds=2))
    try:
        for url in (server.url("/feed"), "http://localhost:9/feed", "http://10.1.2.3/feed", "http://[::1]/feed",
                    "http://169.254.169.254/latest/meta-data/"):
            with pytest.raises(FetchError, match="refused to fetch: .* not a public address"):
                guarded.fetch(url)
        with pytest.raises(FetchError, match="not an http or https URL"):
            guarded.fetch("file:///etc/passwd")
    finally:
        guarded.close()
    assert server.hits["/feed"] == 0


def test_every_redirect_hop_is_checked(server, monkeypatch):
    # Pretend the test server's address is the public internet; its redirect to another
    # loopback address must still be refused, at connect time, before any byte is sent there.
    monkeypatch.setattr("transforms.fetch.public_address", lambda ip: ip == "127.0.0.1")
    port = server.url("/").rsplit(":", 1)[1].rstrip("/")
    server.routes["/feed"] = Reply(302, headers={"Location": f"http://127.0.0.2:{port}/admin"})
    server.routes["/fine"] = Reply(200, b"<rss/>")
    guarded = FeedClient(Settings(fetch_deadline_seconds=2))
    try:
        assert guarded.fetch(server.url("/fine")).body == b"<rss/>"
        with pytest.raises(FetchError, match="refused to fetch: 127.0.0.2 resolves to 127.0.0.2, which is not a public"):
            guarded.fetch(server.url("/feed"))
    finally:
        guarded.close()
    assert server.hits["/admin"] == 0


@pytest.mark.parametrize("address, public", [
    ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True), ("127.0.0.1", False),
    ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False), ("169.254.169.254", False),
    ("224.0.0.251", False), ("::1", False), ("fe80::1", False), ("fc00::1", False), ("::ffff:127.0.0.1", False),
    ("0.0.0.0", False), ("100.64.0.1", False),
])
def test_public_address(address, public):
    assert public_address(address) is public
