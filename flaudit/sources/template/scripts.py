"""Resources a template's deployment scripts create: cluster extensions installed with ``az k8s-extension create``.

The Azure ML FL sample installs the Azure ML extension on its AKS silos with a
``Microsoft.Resources/deploymentScripts`` resource (kind ``AzureCLI``) whose ``scriptContent`` runs
``az k8s-extension create --extension-type Microsoft.AzureML.Kubernetes --config k=v ... --cluster-type
managedClusters --cluster-name C --resource-group G``, not with an extension resource. The extension's settings
decide FL-K8S-003..005, 007 and 008, so the command line is read as the extension resource it creates (the REST shape of
``Microsoft.KubernetesConfiguration/extensions``). Only that one command is understood; a script doing anything
else creates nothing flaudit models, and a command it cannot parse (unbalanced quotes, a missing cluster) is
skipped, so the extension stays "not in the input" and its rules stay unknown. ``--config-protected`` values are
never kept.
"""

from __future__ import annotations

import shlex
from typing import Any

from flaudit.arm import get_path, norm, subscription_of

SCRIPT_TYPE = "microsoft.resources/deploymentscripts"
CLUSTER_TYPES = {"managedclusters": "Microsoft.ContainerService/managedClusters",
                 "connectedclusters": "Microsoft.Kubernetes/connectedClusters"}


def _commands(script: str) -> list[list[str]]:
    """The script's simple commands, split on ``;``, ``&&``, ``||``, ``|`` and newlines outside quotes. A script
    shlex cannot tokenise (a quote that never closes) gives nothing: a broken script creates nothing."""
    lex = shlex.shlex(script, posix=True, punctuation_chars=";&|\n")
    lex.whitespace = " \t\r"
    lex.whitespace_split = True
    try:
        tokens = list(lex)
    except ValueError:
        return []
    out: list[list[str]] = [[]]
    for t in tokens:
        if t and set(t) <= set(";&|\n"):
            out.append([])
        else:
            out[-1].append(t)
    return [c for c in out if c]


def _options(words: list[str]) -> dict[str, list[str]]:
    """``--opt v1 v2 --flag`` -> {"--opt": [v1, v2], "--flag": []} (``--opt=v`` too)."""
    opts: dict[str, list[str]] = {}
    current: list[str] | None = None
    for w in words:
        if w.startswith("--"):
            name, eq, value = w.partition("=")
            current = opts.setdefault(name.lower(), [])
            if eq:
                current.append(value)
        elif current is not None:
            current.append(w)
    return opts


def extension_from_command(words: list[str], subscription: str) -> dict[str, Any] | None:
    """The extension resource ``az k8s-extension create ...`` creates, or None when it is not that command or
    does not name its extension, type, cluster and resource group."""
    if [w.lower() for w in words[:3]] != ["az", "k8s-extension", "create"]:
        return None
    opts = _options(words[3:])

    def one(*names: str) -> str | None:
        for n in names:
            if opts.get(n):
                return opts[n][0]
        return None

    name, ext_type = one("--name", "-n"), one("--extension-type")
    cluster, rg = one("--cluster-name", "-c"), one("--resource-group", "-g")
    cluster_type = CLUSTER_TYPES.get((one("--cluster-type", "-t") or "").lower())
    if not (name and ext_type and cluster and rg and cluster_type):
        return None
    settings = {}
    for kv in opts.get("--config") or opts.get("--configuration-settings") or []:
        key, eq, value = kv.partition("=")
        if eq and key:
            settings[key] = value
    cluster_id = f"/subscriptions/{subscription}/resourceGroups/{rg}/providers/{cluster_type}/{cluster}"
    scope = (one("--scope") or "cluster").lower()
    return {
        "id": f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/{name}",
        "name": name, "type": "Microsoft.KubernetesConfiguration/extensions",
        "properties": {"extensionType": ext_type, "configurationSettings": settings,
                       "scope": {scope: {}}, "releaseTrain": one("--release-train") or "Stable"},
    }


def script_resources(resources: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(created resource, the deployment script that creates it) for every understood command of every
    AzureCLI deployment script among ``resources``."""
    out = []
    for r in resources:
        if norm(r.get("type")) != SCRIPT_TYPE or str(r.get("kind", "")).lower() != "azurecli":
            continue
        script = get_path(r, "properties.scriptContent")
        sub = subscription_of(str(r.get("id") or ""))
        if not isinstance(script, str) or not sub:
            continue
        for words in _commands(script):
            ext = extension_from_command(words, sub)
            if ext is not None:
                out.append((ext, r))
    return out
