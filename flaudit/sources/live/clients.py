"""SDK clients and the plain ARM pipeline client, all sharing one pipeline: read-only, retrying, counted.

Every client (the msi SDK client, the ``ARMPipelineClient`` used for the plain GETs: Azure ML, network,
storage, authorization, private DNS, Key Vault, Container Registry, Resource Graph, and the Microsoft Graph client
of flaudit.sources.live.directory, which only swaps the authentication policy) is built with the same explicit
policy list, so:

* nothing but GET leaves the process (plus the read-only Resource Graph query POST in fleet mode): the
  :class:`RequestLog` policy sits next to the transport, sees every attempt and refuses anything else. The
  default mgmt pipelines also carry ``ARMAutoResourceProviderRegistrationPolicy``, which POSTs a provider
  registration on a 409; it is deliberately left out.
* 429 ``Retry-After`` and 5xx are retried by one policy whose sleep function tests replace, so no test waits.
* the request count is known (the benchmark and the read-only test read it from :class:`RequestLog`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flaudit.sources.live.credential import Cloud

#: Pinned stable api-versions for the resource types read with plain GETs.
API_VERSIONS = {
    "Microsoft.MachineLearningServices": "2025-06-01",  # includes managedNetwork
    "Microsoft.Network": "2024-05-01",
    "Microsoft.Storage": "2025-01-01",
    "Microsoft.Authorization": "2022-04-01",
    "Microsoft.Authorization/roleEligibilityScheduleInstances": "2020-10-01",  # PIM: first stable version
    "Microsoft.ManagedIdentity": "2023-01-31",  # federated identity credentials
    "Microsoft.Network/privateDnsZones": "2024-06-01",
    "Microsoft.KeyVault": "2023-07-01",
    "Microsoft.ContainerRegistry": "2023-07-01",
    "Microsoft.DataProtection": "2025-07-01",
    "Microsoft.DataShare": "2021-08-01",
    # compute that can run as a user-assigned identity (flaudit/identities.py)
    "Microsoft.Compute": "2024-11-01",
    "Microsoft.Web": "2024-04-01",
    "Microsoft.App": "2025-01-01",
    "Microsoft.Resources/subscriptions": "2022-12-01",
    "Microsoft.ResourceGraph": "2024-04-01",
    "Microsoft.ContainerService": "2025-07-01",
    "Microsoft.Kubernetes": "2024-01-01",
    "Microsoft.KubernetesConfiguration": "2023-05-01",
    "Microsoft.ManagedServices": "2022-10-01",  # Azure Lighthouse registration assignments
}

GRAPH_PATH = "/providers/microsoft.resourcegraph/resources"


class ReadOnlyViolation(RuntimeError):
    """A request other than GET (or the Resource Graph query) was about to be sent: a bug, never a user error."""


class MalformedResponse(Exception):
    """A 200 response whose body is not the JSON list or object ARM documents."""

    def __init__(self, url: str, what: str) -> None:
        super().__init__(f"malformed response from {url.split('?')[0]}: {what}")
        self.status_code = 200


@dataclass
class RetrySettings:
    """Retry policy settings; tests pass ``sleep=recorded.append`` so retries are checked without waiting."""

    total: int = 4
    backoff_factor: float = 0.8
    backoff_max: float = 60.0
    connection_timeout: float = 20.0
    read_timeout: float = 120.0
    sleep: Callable[[float], None] = time.sleep


@dataclass
class RequestLog:
    """Counts every request attempt and refuses anything that is not a read."""

    allow_graph_query: bool = False
    entries: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self, method: str, url: str) -> None:
        method = method.upper()
        path = url.split("?", 1)[0].lower()
        allowed = method == "GET" or (
            self.allow_graph_query and method == "POST" and path.endswith(GRAPH_PATH)
        )
        if not allowed:
            raise ReadOnlyViolation(f"flaudit only reads: refused {method} {url.split('?')[0]}")
        with self._lock:
            self.entries.append((method, url))

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.entries)


def _policy_classes() -> tuple[type, type]:
    """Build the two policy classes on first use (azure-core is imported lazily)."""
    from azure.core.pipeline.policies import RetryPolicy, SansIOHTTPPolicy

    class GuardPolicy(SansIOHTTPPolicy):
        def __init__(self, log: RequestLog) -> None:
            self.log = log

        def on_request(self, request: Any) -> None:
            self.log.check(request.http_request.method, request.http_request.url)

    class SleeperRetryPolicy(RetryPolicy):
        """azure-core's retry policy with an injectable sleep (``Retry-After`` first, else backoff)."""

        def __init__(self, sleeper: Callable[[float], None], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._sleeper = sleeper

        def sleep(self, settings: Any, transport: Any, response: Any = None) -> None:
            delay = self.get_retry_after(response) if response is not None else None
            if delay is None:
                delay = self.get_backoff_time(settings)
            if delay and delay > 0:
                self._sleeper(float(delay))

    return GuardPolicy, SleeperRetryPolicy


class ArmSession:
    """All clients of one collection run, sharing a transport, the credential, the retry settings and the log."""

    def __init__(self, credential: Any, cloud: Cloud, retry: RetrySettings | None = None, *,
                 allow_graph_query: bool = False, pool_size: int = 16) -> None:
        import requests
        from azure.core.pipeline.transport import RequestsTransport

        self.credential = credential
        self.cloud = cloud
        self.retry = retry or RetrySettings()
        self.log = RequestLog(allow_graph_query=allow_graph_query)
        self._http = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
        self._http.mount("https://", adapter)
        self.transport = RequestsTransport(
            session=self._http, session_owner=False,
            connection_timeout=self.retry.connection_timeout, read_timeout=self.retry.read_timeout,
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    # -- pipeline ---------------------------------------------------------------------------------------
    def policies(self, auth: Any = None) -> list[Any]:
        """The shared policy list; ``auth`` replaces ARM's authentication policy (Microsoft Graph's bearer token,
        flaudit.sources.live.directory), so every request, whatever its host, passes the same read-only guard."""
        from azure.core.pipeline import policies
        from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

        from flaudit import __version__

        guard_cls, retry_cls = _policy_classes()
        r = self.retry
        return [
            policies.RequestIdPolicy(),
            policies.HeadersPolicy(),
            policies.UserAgentPolicy(sdk_moniker=f"flaudit/{__version__}"),
            policies.ContentDecodePolicy(),
            retry_cls(r.sleep, retry_total=r.total, retry_status=r.total, retry_connect=r.total,
                      retry_read=r.total, retry_backoff_factor=r.backoff_factor,
                      retry_backoff_max=r.backoff_max, retry_mode="exponential"),
            auth or ARMChallengeAuthenticationPolicy(self.credential, self.cloud.token_scope),
            policies.NetworkTraceLoggingPolicy(),
            guard_cls(self.log),  # last: sees every attempt, retries included
        ]

    def _client(self, kind: str, key: str, factory: Callable[[], Any]) -> Any:
        client = self._clients.get((kind, key))  # no lock once built: lookups must not queue behind a build
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get((kind, key))
            if client is None:
                client = factory()
                self._clients[(kind, key)] = client
            return client

    def _sdk_kwargs(self) -> dict[str, Any]:
        return {"base_url": self.cloud.arm_endpoint, "policies": self.policies(), "transport": self.transport}

    @property
    def pipeline(self) -> Any:
        def make() -> Any:
            from azure.mgmt.core import ARMPipelineClient

            return ARMPipelineClient(base_url=self.cloud.arm_endpoint, policies=self.policies(),
                                     transport=self.transport)

        return self._client("pipeline", "", make)

    def network(self, subscription: str) -> Any:
        def make() -> Any:
            from azure.mgmt.network import NetworkManagementClient

            return NetworkManagementClient(self.credential, subscription, **self._sdk_kwargs())

        return self._client("network", subscription, make)

    def storage(self, subscription: str) -> Any:
        def make() -> Any:
            from azure.mgmt.storage import StorageManagementClient

            return StorageManagementClient(self.credential, subscription, **self._sdk_kwargs())

        return self._client("storage", subscription, make)

    def msi(self, subscription: str) -> Any:
        def make() -> Any:
            from azure.mgmt.msi import ManagedServiceIdentityClient

            return ManagedServiceIdentityClient(self.credential, subscription, **self._sdk_kwargs())

        return self._client("msi", subscription, make)

    # -- plain ARM reads ----------------------------------------------------------------------------------
    def send(self, method: str, url: str, *, params: dict[str, str] | None = None,
             json_body: Any = None) -> Any:
        """Send one request through the shared pipeline; raises ``HttpResponseError`` on a non-2xx status."""
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
        from azure.core.rest import HttpRequest

        if not url.startswith("http"):
            url = self.cloud.arm_endpoint.rstrip("/") + url
        request = HttpRequest(method, url, params=params or {}, json=json_body)
        response = self.pipeline.send_request(request)
        if response.status_code == 401:
            raise ClientAuthenticationError(response=response)
        if response.status_code >= 300:
            raise HttpResponseError(response=response)
        return response

    def get_json(self, path: str, api_version: str) -> dict[str, Any]:
        response = self.send("GET", path, params={"api-version": api_version})
        return _json_object(response, path)

    def list_pages(self, path: str, api_version: str, params: dict[str, str] | None = None
                   ) -> Iterator[list[dict[str, Any]]]:
        """Pages of an ARM list (``{"value": [...], "nextLink": ...}``), following ``nextLink`` verbatim."""
        url: str | None = path
        params = {"api-version": api_version, **(params or {})}
        seen: set[str] = set()
        while url:
            response = self.send("GET", url, params=params)
            body = _json_object(response, url)
            value = body.get("value")
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise MalformedResponse(url, "no 'value' array of objects")
            yield value
            nxt = body.get("nextLink")
            if nxt is not None and not isinstance(nxt, str):
                raise MalformedResponse(url, "'nextLink' is not a string")
            if nxt and nxt in seen:
                raise MalformedResponse(url, "'nextLink' repeats an earlier page")
            if nxt:
                seen.add(nxt)
            url, params = (nxt or None), None  # a nextLink carries its own api-version and $skipToken

    def list_all(self, path: str, api_version: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return [item for page in self.list_pages(path, api_version, params) for item in page]

    def close(self) -> None:
        """Drop the clients and close the shared HTTP session (the clients do not own the transport)."""
        with self._lock:
            self._clients.clear()
        self._http.close()


def _json_object(response: Any, url: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise MalformedResponse(url, "body is not JSON") from None
    if not isinstance(body, dict):
        raise MalformedResponse(url, "body is not a JSON object")
    return body


def describe_failure(exc: BaseException) -> tuple[int | None, str] | None:
    """(HTTP status or None, one-line message) for the failures a collector records as unreadable.

    Returns None for anything else, which is a bug and must propagate rather than be recorded.
    """
    from azure.core.exceptions import (
        DecodeError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, MalformedResponse):
        return exc.status_code, _one_line(str(exc))
    if isinstance(exc, DecodeError):
        return getattr(exc, "status_code", None), "malformed response: body is not the JSON ARM documents"
    if isinstance(exc, HttpResponseError):
        code = getattr(getattr(exc, "error", None), "code", None)
        msg = getattr(getattr(exc, "error", None), "message", None) or exc.reason or str(exc)
        text = f"{code}: {msg}" if code else str(msg)
        return exc.status_code, _one_line(text)
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return None, _one_line(f"no response ({type(exc).__name__}: {exc})")
    try:
        from msrest.exceptions import DeserializationError
    except ImportError:  # pragma: no cover - msrest ships with azure-mgmt-authorization
        DeserializationError = ()  # type: ignore[assignment]
    if DeserializationError and isinstance(exc, DeserializationError):
        return 200, _one_line(f"malformed response: {exc}")
    return None


def _one_line(text: str, limit: int = 300) -> str:
    """One redacted line: an error body is stored in the snapshot, so it must not carry a secret either."""
    from flaudit.redact import redact

    line = " ".join(str(redact(str(text))).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
