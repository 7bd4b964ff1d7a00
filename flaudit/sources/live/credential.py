"""The one place flaudit creates Azure credentials.

Live collection authenticates with ``azure-identity``'s :class:`DefaultAzureCredential` (environment, workload
identity, managed identity, Azure CLI, ...) against the chosen cloud's authority. Everything else takes a
``credential=`` parameter instead, so tests and programs that embed flaudit pass their own ``TokenCredential``
and the real credential chain (which probes a link-local managed-identity endpoint) never runs there.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from flaudit.errors import CollectionError, InputError


@dataclass(frozen=True)
class Cloud:
    """Endpoints of one Azure cloud: ARM for every request, the Entra authority for tokens, and the Microsoft
    Graph service root the directory facts are read from (flaudit.sources.live.directory)."""

    name: str
    arm_endpoint: str
    authority_host: str
    graph_endpoint: str = "https://graph.microsoft.com"

    @property
    def token_scope(self) -> str:
        return self.arm_endpoint.rstrip("/") + "/.default"

    @property
    def graph_scope(self) -> str:
        return self.graph_endpoint.rstrip("/") + "/.default"


CLOUDS: dict[str, Cloud] = {
    "AzureCloud": Cloud("AzureCloud", "https://management.azure.com", "login.microsoftonline.com"),
    # Microsoft Graph's national cloud roots (learn.microsoft.com/graph/deployments): US Government L4 (L5/DoD
    # tenants use dod-graph.microsoft.us, which flaudit does not select) and the cloud operated by 21Vianet
    "AzureUSGovernment": Cloud("AzureUSGovernment", "https://management.usgovcloudapi.net",
                               "login.microsoftonline.us", "https://graph.microsoft.us"),
    "AzureChinaCloud": Cloud("AzureChinaCloud", "https://management.chinacloudapi.cn", "login.chinacloudapi.cn",
                             "https://microsoftgraph.chinacloudapi.cn"),
}


def cloud_named(name: str | None) -> Cloud:
    if not name:
        return CLOUDS["AzureCloud"]
    for key, cloud in CLOUDS.items():
        if key.lower() == name.lower():
            return cloud
    raise InputError(f"--cloud {name}: unknown cloud (one of {', '.join(CLOUDS)})")


def make_credential(tenant: str | None = None, cloud: Cloud | str | None = None) -> Any:
    """``DefaultAzureCredential`` for ``cloud``, pinned to ``tenant`` when given, with a token cache in front.

    azure-identity is imported here, not at module import, so ``flaudit --help`` and offline audits stay fast.
    """
    from azure.identity import DefaultAzureCredential

    c = cloud if isinstance(cloud, Cloud) else cloud_named(cloud)
    kwargs: dict[str, Any] = {"authority": c.authority_host, "exclude_interactive_browser_credential": True}
    if tenant:
        # DefaultAzureCredential has no tenant_id option: each inner credential takes its own, and a token
        # request may name the tenant (which the wrapper below does) when it is allowed.
        kwargs.update(
            interactive_browser_tenant_id=tenant, shared_cache_tenant_id=tenant,
            visual_studio_code_tenant_id=tenant, workload_identity_tenant_id=tenant,
            additionally_allowed_tenants=[tenant],
        )
    return CachingCredential(DefaultAzureCredential(**kwargs), tenant=tenant)


class CachingCredential:
    """Wrap a ``TokenCredential``: reuse tokens until shortly before expiry and pin the tenant.

    Each SDK client has its own authentication policy; without a shared cache every client would ask the
    credential again, and the Azure CLI credential spawns ``az`` for each request (about a second each).
    """

    def __init__(self, inner: Any, tenant: str | None = None, *, skew_seconds: int = 300) -> None:
        self.inner = inner
        self.tenant = tenant
        self._skew = skew_seconds
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], Any] = {}

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        if self.tenant and "tenant_id" not in kwargs:
            kwargs["tenant_id"] = self.tenant
        key = tuple(scopes)
        cacheable = not kwargs.get("claims")  # a CAE challenge asks for a fresh token
        with self._lock:
            cached = self._tokens.get(key)
            if cacheable and cached is not None and cached.expires_on - self._skew > time.time():
                return cached
            token = self.inner.get_token(*scopes, **kwargs)
            self._tokens[key] = token
            return token

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()


def check_credential(credential: Any, cloud: Cloud) -> None:
    """Ask for one ARM token before any request so a missing login fails once, fast, with exit code 3."""
    from azure.core.exceptions import ClientAuthenticationError

    try:
        credential.get_token(cloud.token_scope)
    except ClientAuthenticationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CollectionError(
            f"no usable Azure credential for {cloud.name} ({first[:300]}); sign in with `az login`, or set "
            "AZURE_CLIENT_ID/AZURE_TENANT_ID with a secret, certificate or workload identity"
        ) from None
