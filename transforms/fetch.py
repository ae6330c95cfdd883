"""A polite, bounded and guarded HTTP GET for feeds, on urllib3.

urllib3 because it is already in newsbeam's dependencies (trafilatura uses it), it is
synchronous and thread-safe (one pool serves the fetch threads of a worker), its streaming reads
decompress gzip, deflate, brotli and zstd with a bound on the output of each read (so a
compression bomb is caught at the size cap, not after it has filled memory), and the connection
class is its documented extension point, which is where the address check sits.

Every fetch is bounded: a connect timeout and a deadline for the whole response (headers and
body, checked between reads, each read waiting no longer than the time left), a size cap on the
decoded body, a limit on redirects (a loop is named as one), and a bounded number of retries on
429 and 5xx with exponential backoff or the server's Retry-After, when that is no longer than
`fetch_max_retry_after`. At most `fetch_per_host` of a client's requests go to one host at a
time.

Only http and https are fetched, and by default never from an address that is not globally
routable (loopback, private, link-local, multicast, reserved): the check is made on the
address actually connected to, after name resolution, for every connection, so a redirect or a
DNS answer cannot steer a fetch into the local network.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import ipaddress
import random
import socket
import threading
import time
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import connection as urllib3_connection

from pipeline.options import Settings, user_agent
from transforms.rejects import InputError

REDIRECTS = {301, 302, 303, 307, 308}
RETRIED = {429, 500, 502, 503, 504}
ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml, "
          "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5")
READ_BYTES = 64 * 1024
CACHE_HEADERS = ("cache-control", "expires", "retry-after")
STATUS_REASONS = {
    401: "the server asks for a login (HTTP 401)",
    403: "the server refuses access (HTTP 403)",
    404: "the feed is not there (HTTP 404)",
    410: "the feed is gone for good (HTTP 410); take it off the list",
    429: "the server says too many requests (HTTP 429)",
}


class FetchError(InputError):
    """A feed that could not be fetched; the message says why, for the rejects table.
    `retry_after` is the server's Retry-After header, when it sent one, for the poll schedule."""

    def __init__(self, message: str, retry_after: str | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class BlockedAddress(NewConnectionError):
    """The host resolves only to addresses newsbeam does not connect to."""

    def __init__(self, connection, reason: str):
        super().__init__(connection, reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Validators:
    """What the server said identifies this version of the feed, for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclasses.dataclass
class Response:
    url: str  # after redirects
    status: int  # 200, or 304 for unchanged
    body: bytes
    content_type: str | None
    validators: Validators
    # What the server says about when to ask again (lower-case names), for the poll schedule.
    cache_headers: dict[str, str] = dataclasses.field(default_factory=dict)


# IPv6 addresses that carry an IPv4 address in their last 32 bits, where a host or a gateway may
# deliver them: IPv4-compatible (deprecated) and the NAT64 well-known prefix.
IPV4_IN_LAST_32_BITS = (ipaddress.ip_network("::/96"), ipaddress.ip_network("64:ff9b::/96"))
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")  # a network's own translator: not global


def public_address(ip: str) -> bool:
    """Whether an address is on the public internet, judging an IPv6 address that embeds an IPv4
    one (mapped, compatible, 6to4, NAT64) by the IPv4 address it leads to."""
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address):
        if address in NAT64_LOCAL_USE or address.is_site_local:
            return False
        if any(address in network for network in IPV4_IN_LAST_32_BITS):
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        else:
            address = address.ipv4_mapped or address.sixtofour or address
    return address.is_global and not address.is_multicast


# The deadline of the request this thread is making, for `GuardedConnection.getresponse`.
_request = threading.local()


class GuardedConnection:
    """Connects only to addresses the client allows, checked after resolution (mixed into
    urllib3's connection classes; TLS still verifies the host name, not the address), and reads a
    response's headers by the request's deadline."""

    allow_private_addresses = False

    def getresponse(self):
        """The response, its headers read by the deadline: each read of a server sending them a
        byte at a time ends within its timeout, so without a watch they could take for ever."""
        passed = threading.Event()

        def cut():
            passed.set()
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)  # wakes the read blocked on it

        watch = threading.Timer(max(_request.deadline - time.monotonic(), 0), cut)
        watch.start()
        try:
            response = super().getresponse()
        except Exception:
            if passed.is_set():
                raise socket.timeout("the response's headers did not come by the deadline") from None
            raise
        finally:
            watch.cancel()
        if passed.is_set():
            raise socket.timeout("the response's headers did not come by the deadline")
        return response

    def _new_conn(self) -> socket.socket:
        try:
            infos = socket.getaddrinfo(self._dns_host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        allowed = [info[4][0] for info in infos if self.allow_private_addresses or public_address(info[4][0])]
        if not allowed:
            addresses = ", ".join(sorted({info[4][0] for info in infos}))
            raise BlockedAddress(self, f"{self.host} resolves to {addresses}, which is not a public address")
        last_error: OSError | None = None
        for ip in allowed:
            try:
                return urllib3_connection.create_connection(
                    (ip, self.port), self.timeout, source_address=self.source_address,
                    socket_options=self.socket_options)
            except socket.timeout as error:
                raise ConnectTimeoutError(self, f"connecting to {self.host} timed out") from error
            except OSError as error:
                last_error = error
        raise NewConnectionError(self, f"cannot connect to {self.host}: {last_error}")


class FeedClient:
    """Fetches feed URLs under `Settings`' limits; one per fetching DoFn, shared by its threads."""

    def __init__(self, settings: Settings):
        self.settings = settings
        allow = {"allow_private_addresses": settings.allow_private_addresses}
        http_connection = type("GuardedHTTPConnection", (GuardedConnection, HTTPConnection), allow)
        https_connection = type("GuardedHTTPSConnection", (GuardedConnection, HTTPSConnection), allow)
        self.pools = urllib3.PoolManager(num_pools=256, maxsize=settings.fetch_per_host, block=False)
        self.pools.pool_classes_by_scheme = {
            "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_connection}),
            "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_connection}),
        }
        self.headers = {
            "User-Agent": user_agent(settings.contact),
            "Accept": ACCEPT,
            "Accept-Encoding": urllib3.util.make_headers(accept_encoding=True)["accept-encoding"],
        }
        self.host_slots: dict[str, threading.BoundedSemaphore] = {}
        self.lock = threading.Lock()

    def close(self) -> None:
        self.pools.clear()

    def fetch(self, url: str, validators: Validators = Validators()) -> Response:
        """The feed's body (status 200) or word that it is unchanged (304); else FetchError."""
        s = self.settings
        attempts = 0
        while True:
            answer = self.follow_redirects(url, validators)
            attempts += 1
            if answer.status not in RETRIED:
                return answer.result
            reason = STATUS_REASONS.get(answer.status, f"the server failed (HTTP {answer.status})")
            asked = answer.headers.get("Retry-After")
            if attempts > s.fetch_retries:
                raise FetchError(f"{reason} on all {attempts} attempts", asked)
            wait = retry_after(asked)
            if wait is None:
                wait = s.fetch_backoff_seconds * 2 ** (attempts - 1) * random.uniform(1.0, 1.5)
            elif wait > s.fetch_max_retry_after:
                raise FetchError(f"{reason} and asks to retry after {wait:.0f} s, longer than the "
                                 f"{s.fetch_max_retry_after:g} s newsbeam waits", asked)
            time.sleep(wait)

    def follow_redirects(self, url: str, validators: Validators) -> "_Answer":
        visited = [url]
        while True:
            answer = self.get(url, validators.request_headers())
            if answer.status not in REDIRECTS:
                return answer
            location = answer.headers.get("Location")
            if not location:
                raise FetchError(f"the server redirects (HTTP {answer.status}) without saying where")
            try:
                url = urljoin(url, location.strip())
            except ValueError:
                raise FetchError(f"the server redirects to '{location.strip()[:200]}', which is not a valid URL") from None
            if url in visited:
                raise FetchError(f"the redirects go round in a loop ({' -> '.join(visited + [url])})")
            if len(visited) > self.settings.fetch_max_redirects:
                raise FetchError(f"more than {self.settings.fetch_max_redirects} redirects")
            visited.append(url)

    def get(self, url: str, conditional: dict[str, str]) -> "_Answer":
        """One request, without redirects or retries, with the body read under the limits."""
        s = self.settings
        try:
            parts = urlsplit(url)
            port = parts.port  # 'host:99999' splits, and fails here
        except ValueError:
            raise FetchError(f"'{url[:200]}' is not a valid URL") from None
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"'{url}' is not an http or https URL; newsbeam fetches only those")
        if not parts.hostname:
            raise FetchError(f"'{url}' names no host")
        deadline = _request.deadline = time.monotonic() + s.fetch_deadline_seconds
        with self.host_slot(f"{parts.hostname}:{port or parts.scheme}"):
            remaining = max(deadline - time.monotonic(), 0.001)
            timeout = urllib3.Timeout(connect=min(s.fetch_connect_seconds, remaining), read=remaining)
            try:
                response = self.pools.urlopen(
                    "GET", url, headers={**self.headers, **conditional}, retries=False, redirect=False,
                    preload_content=False, decode_content=True, timeout=timeout)
                body, complete = b"", False
                try:
                    if response.status == 200:
                        body = self.read_body(response, deadline)
                        complete = True
                finally:
                    if not complete:  # an unread body must not be left on a pooled connection
                        response.close()
                    response.release_conn()
            except HTTPError as error:
                raise FetchError(network_reason(error, parts.hostname, s)) from None
        validators = Validators(response.headers.get("ETag"), response.headers.get("Last-Modified"))
        cache = {name: response.headers[name] for name in CACHE_HEADERS if name in response.headers}
        result = Response(url, response.status, body, response.headers.get("Content-Type"), validators, cache)
        if response.status not in {200, 304} | REDIRECTS | RETRIED:
            reason = STATUS_REASONS.get(response.status)
            if reason is None and response.status >= 400:
                reason = f"the server answered HTTP {response.status}"
            raise FetchError(reason or f"the server answered HTTP {response.status}, not a feed")
        return _Answer(response.status, response.headers, result)

    def read_body(self, response, deadline: float) -> bytes:
        cap = self.settings.fetch_max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and response.headers.get("Content-Encoding", "identity") == "identity" \
                and int(declared) > cap:
            raise FetchError(f"the feed is {size_text(int(declared))}, over the {size_text(cap)} limit")
        chunks, size = [], 0
        while chunk := response.read1(READ_BYTES):
            size += len(chunk)
            if size > cap:
                raise FetchError(f"the feed is over the {size_text(cap)} limit (after decompression)")
            if time.monotonic() > deadline:
                raise FetchError(f"the feed took longer than the {self.settings.fetch_deadline_seconds:g} s deadline")
            chunks.append(chunk)
        return b"".join(chunks)

    def host_slot(self, host: str) -> threading.BoundedSemaphore:
        with self.lock:
            if host not in self.host_slots:
                self.host_slots[host] = threading.BoundedSemaphore(self.settings.fetch_per_host)
            return self.host_slots[host]


@dataclasses.dataclass
class _Answer:
    status: int
    headers: urllib3.HTTPHeaderDict
    result: Response


def size_text(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size / 1024:.0f} KB"


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: a number, or an HTTP date from now; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)


def network_reason(error: HTTPError, host: str, s: Settings) -> str:
    """One sentence for a failure below HTTP."""
    if isinstance(error, BlockedAddress):
        return f"refused to fetch: {error.reason} (--allow-private-addresses allows it)"
    if isinstance(error, NameResolutionError):
        return f"the host name '{host}' does not resolve"
    if isinstance(error, NewConnectionError):  # before its base class, ConnectTimeoutError
        return f"cannot connect to {host}: the connection was refused or failed"
    if isinstance(error, ConnectTimeoutError):
        return f"cannot connect to {host} within {s.fetch_connect_seconds:g} s"
    if isinstance(error, ReadTimeoutError):
        return f"the server did not answer within the {s.fetch_deadline_seconds:g} s deadline"
    if isinstance(error, DecodeError):
        return "the response's compression is corrupt"
    if isinstance(error, SSLError):
        return f"the TLS connection to {host} failed: {error}"
    if isinstance(error, ProtocolError):
        return f"the connection to {host} broke off mid-response"
    return f"the request to {host} failed: {error}"
