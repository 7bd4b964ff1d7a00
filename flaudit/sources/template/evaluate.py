"""Expand an ARM template into the ARM-REST-shaped resources it would create.

One :class:`TemplateExpander` evaluates a template: parameters (with defaults, lazily, in dependency order),
variables (memoized, including variable copy), user-defined functions, resource and property copy loops,
conditions, existing resources, nested deployments and modules (inner and outer expression scope, with
their outputs readable through ``reference()``) and symbolic-name templates (``languageVersion`` 2.0).

Resources are evaluated on demand: when an expression calls ``reference()`` on a resource or module of the
template that has not been evaluated yet, that declaration is evaluated first, so the order of the
``resources`` array does not matter. Values known only after deployment are :class:`.values.Unknown` and
end up as ``[symbolic:<lower id>:<path>]`` strings (see :mod:`.values`).

Nothing here raises on a construct it cannot evaluate: it records an ``unsupported`` entry with the file,
JSON path and reason, substitutes ``[unsupported:<json path>]`` for the value (or, when a resource's name,
type or copy count is not known, leaves the resource out) and carries on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flaudit.arm import norm
from flaudit.sources.template.expressions import (
    Access,
    Call,
    ExpressionSyntaxError,
    Literal,
    is_expression,
    parse_expression,
    unescape,
)
from flaudit.sources.template.functions import FUNCTIONS, FunctionError, build_id, rg_id, to_str
from flaudit.sources.template.locate import json_path
from flaudit.sources.template.values import Lambda, Unknown, Unsupported, is_symbolic, materialize, symbol

DEPLOYMENTS = "microsoft.resources/deployments"
ZONE_GROUP = "microsoft.network/privateendpoints/privatednszonegroups"
#: Top-level resource keys copied (evaluated) into the ARM REST shape.
RESOURCE_KEYS = ("location", "tags", "sku", "kind", "identity", "properties", "zones", "plan",
                 "extendedLocation", "managedBy")

_SCHEMA_KINDS = (
    ("subscriptiondeploymenttemplate", "subscription"),
    ("managementgroupdeploymenttemplate", "managementGroup"),
    ("tenantdeploymenttemplate", "tenant"),
)


def schema_kind(template: dict[str, Any], default: str = "resourceGroup") -> str:
    schema = str(template.get("$schema") or "").lower()
    for marker, kind in _SCHEMA_KINDS:
        if marker in schema:
            return kind
    return default if "deploymenttemplate" not in schema else "resourceGroup"


@dataclass
class Target:
    """Where a (nested) deployment deploys: the values behind resourceGroup(), subscription() and ids."""

    kind: str  # resourceGroup | subscription | managementGroup | tenant
    subscription_id: str
    resource_group: str | None
    location: str
    tenant_id: str
    management_group: str | None = None

    def prefix(self) -> str:
        if self.kind == "resourceGroup":
            return rg_id(self.subscription_id, self.resource_group or "")
        if self.kind == "subscription":
            return f"/subscriptions/{self.subscription_id}"
        if self.kind == "managementGroup":
            return f"/providers/Microsoft.Management/managementGroups/{self.management_group}"
        return ""


@dataclass
class Instance:
    id: str
    name: str  # full name (parent/child)
    type: str
    resource: dict[str, Any] | None = None  # None for existing resources and deployments
    outputs: dict[str, Any] | None = None  # deployments only
    existing: bool = False


@dataclass
class Decl:
    raw: dict[str, Any]
    path: str
    scope: Scope
    symbolic: str | None = None
    parent: Instance | None = None
    parent_copy: dict[Any, int] = field(default_factory=dict)
    state: int = 0  # 0 new, 1 evaluating, 2 done
    instances: list[Instance] = field(default_factory=list)


class Scope:
    """One template being evaluated (the main one or a nested deployment's)."""

    def __init__(self, template: dict[str, Any], path: str, target: Target, deployment_name: str,
                 params: dict[str, Any], parent: Scope | None = None, outer: bool = False) -> None:
        self.template = template
        self.path = path
        self.target = target
        self.deployment_name = deployment_name
        self.params = params
        self.parent = parent
        self.outer = outer
        self.param_decls: dict[str, Any] = {k.lower(): v for k, v in (template.get("parameters") or {}).items()
                                            if isinstance(v, dict)}
        self.var_cache: dict[str, Any] = {}
        self.var_busy: set[str] = set()
        self.param_busy: set[str] = set()
        self.lang2 = isinstance(template.get("resources"), dict) or str(
            template.get("languageVersion") or "").startswith("2")
        self.decls: list[Decl] = []
        self.symbols: dict[str, Decl] = {}
        self.id_index: dict[str, Decl] | None = None
        self.name_index: dict[str, Decl] = {}
        self.functions: dict[str, dict[str, Any]] = {}
        for ns in template.get("functions") or []:
            if isinstance(ns, dict):
                for mname, member in (ns.get("members") or {}).items():
                    self.functions[f"{ns.get('namespace', '')}.{mname}".lower()] = member
        resources = template.get("resources") or []
        rpath = json_path(path, "resources")
        if isinstance(resources, dict):
            for sym, raw in resources.items():
                if isinstance(raw, dict):
                    d = Decl(raw, json_path(rpath, sym), self, symbolic=sym)
                    self.decls.append(d)
                    self.symbols[sym.lower()] = d
        elif isinstance(resources, list):
            for i, raw in enumerate(resources):
                if isinstance(raw, dict):
                    self.decls.append(Decl(raw, json_path(rpath, i), self))

    # values functions.py reads: resourceGroup(), subscription(), resourceId()... resolve to the parent
    # template's scope in a nested template with outer (default) expression scope, to the nested deployment's
    # with inner scope (https://learn.microsoft.com/azure/azure-resource-manager/templates/scope-functions
    # #function-resolution-in-scopes); where the resources themselves deploy is ``target`` either way.
    @property
    def expression_target(self) -> Target:
        scope = self
        while scope.outer and scope.parent is not None:
            scope = scope.parent
        return scope.target

    @property
    def kind(self) -> str:
        return self.expression_target.kind

    @property
    def subscription_id(self) -> str:
        return self.expression_target.subscription_id

    @property
    def resource_group(self) -> str | None:
        return self.expression_target.resource_group

    @property
    def location(self) -> str:
        return self.expression_target.location

    @property
    def tenant_id(self) -> str:
        return self.expression_target.tenant_id

    @property
    def management_group(self) -> str | None:
        return self.expression_target.management_group


class Ctx:
    """Evaluation context of one expression: scope, copy indices, lambda variables, function parameters."""

    __slots__ = ("ex", "scope", "copy", "lvars", "fparams", "rid")

    def __init__(self, ex: TemplateExpander, scope: Scope, copy: dict[Any, int] | None = None,
                 lvars: dict[str, Any] | None = None, fparams: dict[str, Any] | None = None,
                 rid: str | None = None) -> None:
        self.ex = ex
        self.scope = scope
        self.copy = copy or {}
        self.lvars = lvars or {}
        self.fparams = fparams
        self.rid = rid

    def with_copy(self, name: Any, index: int) -> Ctx:
        copy = dict(self.copy)
        copy[name] = index
        return Ctx(self.ex, self.scope, copy, self.lvars, self.fparams, self.rid)

    def apply(self, lam: Lambda, values: list[Any]) -> Any:
        lvars = dict(lam.captured)
        for name, value in zip(lam.params, values, strict=False):
            lvars[name] = value
        return self.ex.ev(lam.body, Ctx(self.ex, self.scope, self.copy, lvars, self.fparams, self.rid))


class TemplateExpander:
    """Evaluates one template file into resources, unsupported entries and locations."""

    def __init__(self, file: str, lines: dict[str, int] | None = None) -> None:
        self.file = file
        self.lines = lines or {}
        self.resources: list[dict[str, Any]] = []
        self.unsupported: list[dict[str, Any]] = []
        self.locations: dict[str, dict[str, Any]] = {}
        self.deleted_ids: set[str] = set()
        self.by_id: dict[str, Instance] = {}
        self.scopes: list[Scope] = []
        self.outputs: dict[str, Any] = {}
        self._reported: set[tuple[str | None, str]] = set()

    # -- entry point ------------------------------------------------------------------------------
    def expand(self, template: dict[str, Any], params: dict[str, Any], target: Target,
               deployment_name: str) -> None:
        scope = Scope(template, "$", target, deployment_name, params)
        self.outputs = self.run_scope(scope, {})
        self.derive_zone_group_records()

    def derive_zone_group_records(self) -> None:
        """Add the DNS A records a private endpoint's privateDnsZoneGroups make ARM register at deployment.

        A zone group is the template's way of saying "register this endpoint in these zones": ARM then writes
        an A record named after the target resource (``<account>`` in ``privatelink.blob...``) holding the
        endpoint's private IP. Without them, a template would look as if its private DNS never resolves.
        The IP is the static one the template sets, else a symbol naming the endpoint.
        """
        by_id = {norm(r["id"]): r for r in self.resources}
        for group in [r for r in self.resources if r["type"].lower() == ZONE_GROUP]:
            pe = by_id.get(norm(group["id"].rsplit("/privateDnsZoneGroups/", 1)[0]))
            if pe is None:
                continue
            props = pe.get("properties") or {}
            targets = [str((c.get("properties") or {}).get("privateLinkServiceId") or "").rstrip("/").split("/")[-1]
                       for key in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections")
                       for c in props.get(key) or [] if isinstance(c, dict)]
            ips = [str((c.get("properties") or {}).get("privateIPAddress")) for c in props.get("ipConfigurations") or []
                   if isinstance(c, dict) and (c.get("properties") or {}).get("privateIPAddress")]
            ip = ips[0] if ips else symbol(norm(pe["id"]), "customDnsConfigs[0].ipAddresses[0]")
            for config in (group.get("properties") or {}).get("privateDnsZoneConfigs") or []:
                zone_id = str((config.get("properties") or {}).get("privateDnsZoneId") or "") \
                    if isinstance(config, dict) else ""
                for target in targets:
                    if not zone_id or not target:
                        continue
                    rid = f"{zone_id.rstrip('/')}/A/{target}"
                    record = by_id.get(norm(rid))
                    if record is None:
                        record = {"id": rid, "name": target, "type": "Microsoft.Network/privateDnsZones/A",
                                  "properties": {"ttl": 10, "aRecords": []}}
                        by_id[norm(rid)] = record
                        self.resources.append(record)
                        self.locations[norm(rid)] = dict(self.locations.get(norm(group["id"])) or {})
                    entries = record.setdefault("properties", {}).setdefault("aRecords", [])
                    if not any(isinstance(e, dict) and e.get("ipv4Address") == ip for e in entries):
                        entries.append({"ipv4Address": ip})

    def run_scope(self, scope: Scope, base_copy: dict[Any, int]) -> dict[str, Any]:
        self.scopes.append(scope)
        for decl in scope.decls:
            if not decl.parent_copy:
                decl.parent_copy = base_copy
            self.ensure(decl)
        return self.eval_outputs(scope, base_copy)

    def record(self, rid: str | None, path: str, message: str) -> None:
        key = (rid, f"{path}: {message}")
        if key in self._reported:
            return
        self._reported.add(key)
        self.unsupported.append({"resource_id": rid, "message": f"{self.file} {path}: {message}"})

    # -- JSON values ------------------------------------------------------------------------------
    def scalar(self, raw: Any, ctx: Ctx) -> Any:
        """Evaluate a JSON value that must be a single expression or literal; raises on failure."""
        if is_expression(raw):
            return self.ev(parse_expression(raw), ctx)
        if isinstance(raw, str):
            return unescape(raw)
        return raw

    def value(self, raw: Any, ctx: Ctx, path: str) -> Any:
        """Evaluate any JSON value; failures are recorded at ``path`` and replaced by a marker string."""
        if isinstance(raw, str):
            if is_expression(raw):
                try:
                    return self.ev(parse_expression(raw), ctx)
                except (Unsupported, ExpressionSyntaxError, RecursionError) as exc:
                    self.record(ctx.rid, path, f"{raw[:200]}: {exc}")
                    return f"[unsupported:{path}]"
            return unescape(raw)
        if isinstance(raw, list):
            return [self.value(x, ctx, f"{path}[{i}]") for i, x in enumerate(raw)]
        if isinstance(raw, dict):
            out: dict[str, Any] = {}
            copies = raw.get("copy")
            prop_copy = isinstance(copies, list) and all(
                isinstance(c, dict) and "name" in c and "input" in c for c in copies) and copies
            for k, x in raw.items():
                if prop_copy and k == "copy":
                    continue
                key = k
                if is_expression(k):
                    try:
                        key = to_str(materialize(self.ev(parse_expression(k), ctx)))
                    except (Unsupported, ExpressionSyntaxError) as exc:
                        self.record(ctx.rid, json_path(path, k), f"property name {k}: {exc}")
                out[key] = self.value(x, ctx, json_path(path, k))
            if prop_copy:
                for i, c in enumerate(copies):
                    cpath = f"{json_path(path, 'copy')}[{i}]"
                    name = str(c["name"])
                    try:
                        count = self.count(c.get("count"), ctx)
                    except (Unsupported, ExpressionSyntaxError) as exc:
                        self.record(ctx.rid, cpath, f"copy count: {exc}")
                        continue
                    out[name] = [self.value(c["input"], ctx.with_copy(name, n), json_path(cpath, "input"))
                                 for n in range(count)]
            return out
        return raw

    def count(self, raw: Any, ctx: Ctx) -> int:
        n = materialize(self.scalar(raw, ctx))
        if isinstance(n, bool) or not isinstance(n, int):
            raise Unsupported(f"copy count {n!r} is not a number known before deployment")
        if n < 0 or n > 10000:
            raise Unsupported(f"copy count {n} outside 0..10000")
        return n

    # -- expressions ------------------------------------------------------------------------------
    def ev(self, node: Any, ctx: Ctx) -> Any:
        t = type(node)
        if t is Literal:
            return node.value
        if t is Access:
            return self.access(self.ev(node.target, ctx), materialize(self.ev(node.key, ctx)))
        return self.call(node, ctx)

    @staticmethod
    def access(target: Any, key: Any) -> Any:
        if isinstance(target, Unknown):
            return target.get(key)
        if isinstance(target, dict) and isinstance(key, str):
            if key in target:
                return target[key]
            low = key.lower()
            for k, v in target.items():
                if k.lower() == low:
                    return v
            raise Unsupported(f"property '{key}' does not exist (available: {', '.join(list(target)[:12])})")
        if isinstance(target, list) and isinstance(key, int) and not isinstance(key, bool):
            if 0 <= key < len(target):
                return target[key]
            raise Unsupported(f"index {key} out of range for an array of {len(target)}")
        if is_symbolic(target):
            raise Unsupported(f"reads '{key}' of a value known only after deployment ({target})")
        raise Unsupported(f"cannot read {key!r} of {to_str(target)[:80]!r}")

    def call(self, node: Call, ctx: Ctx) -> Any:
        low = node.name.lower()
        special = _SPECIAL.get(low)
        if special is not None:
            return special(self, node.args, ctx)
        fn = FUNCTIONS.get(low)
        if fn is None:
            if "." in low:
                return self.user_function(node, ctx)
            if low.startswith("list"):
                raise Unsupported(f"{node.name}() is not evaluated: it returns secrets or runtime data")
            raise Unsupported(f"unknown function {node.name}()")
        args = [self.ev(a, ctx) for a in node.args]
        args = [a if isinstance(a, Lambda) else materialize(a) for a in args]
        return fn(ctx, args)

    def user_function(self, node: Call, ctx: Ctx) -> Any:
        scope: Scope | None = ctx.scope
        member = None
        while scope is not None and member is None:
            member = scope.functions.get(node.name.lower())
            scope = scope.parent if scope.outer else None
        if member is None:
            raise Unsupported(f"unknown function {node.name}()")
        params = member.get("parameters") or []
        args = [materialize(self.ev(a, ctx)) for a in node.args]
        fparams = {str(p.get("name")).lower(): args[i] if i < len(args) else None
                   for i, p in enumerate(params) if isinstance(p, dict)}
        out = (member.get("output") or {}).get("value")
        fctx = Ctx(self, ctx.scope, {}, {}, fparams, ctx.rid)
        if is_expression(out):
            return self.ev(parse_expression(out), fctx)
        return self.value(out, fctx, f"$.functions.{node.name}")

    # -- parameters and variables -----------------------------------------------------------------
    def parameter(self, scope: Scope, name: str) -> Any:
        while scope.outer and scope.parent is not None:
            scope = scope.parent
        for k, v in scope.params.items():
            if k.lower() == name.lower():
                return v
        decl = scope.param_decls.get(name.lower())
        if decl is None:
            raise Unsupported(f"parameter '{name}' is not declared")
        if "defaultValue" not in decl:
            raise Unsupported(f"parameter '{name}' has no value and no default")
        if name.lower() in scope.param_busy:
            raise Unsupported(f"parameter '{name}' refers to itself")
        scope.param_busy.add(name.lower())
        try:
            value = self.value(decl["defaultValue"], Ctx(self, scope),
                               json_path(json_path(json_path(scope.path, "parameters"), name), "defaultValue"))
        finally:
            scope.param_busy.discard(name.lower())
        scope.params[name] = value
        return value

    def variable(self, scope: Scope, name: str) -> Any:
        while scope.outer and scope.parent is not None:
            scope = scope.parent
        low = name.lower()
        if low in scope.var_cache:
            return scope.var_cache[low]
        variables = scope.template.get("variables") or {}
        vpath = json_path(scope.path, "variables")
        if low in scope.var_busy:
            raise Unsupported(f"variable '{name}' refers to itself")
        scope.var_busy.add(low)
        try:
            found = next((k for k in variables if k.lower() == low and k != "copy"), None)
            if found is not None:
                value = self.value(variables[found], Ctx(self, scope), json_path(vpath, found))
            else:
                entry = next((c for c in variables.get("copy") or []
                              if isinstance(c, dict) and str(c.get("name", "")).lower() == low), None)
                if entry is None:
                    raise Unsupported(f"variable '{name}' is not defined")
                ctx = Ctx(self, scope)
                count = self.count(entry.get("count"), ctx)
                cname = str(entry["name"])
                value = [self.value(entry.get("input"), ctx.with_copy(cname, i),
                                    f"{json_path(vpath, 'copy')}.{cname}") for i in range(count)]
        finally:
            scope.var_busy.discard(low)
        scope.var_cache[low] = value
        return value

    # -- references -------------------------------------------------------------------------------
    def absolute_id(self, ref: str, scope: Scope) -> str:
        if ref.startswith("/"):
            return ref
        return f"{scope.target.prefix()}/providers/{ref}"

    def find(self, ref: str, scope: Scope) -> Instance | None:
        """The template instance ``ref`` names (symbolic name, plain name or id), evaluating it if needed."""
        if scope.lang2:
            sym, _, idx = ref.partition("[")
            decl = scope.symbols.get(sym.lower())
            if decl is not None and "/" not in ref:
                self.ensure(decl)
                if idx:
                    try:
                        i = int(idx.rstrip("]"))
                    except ValueError:
                        return None
                    return decl.instances[i] if 0 <= i < len(decl.instances) else None
                return decl.instances[0] if decl.instances else None
        if "/" not in ref:
            self.build_index(scope)
            decl = scope.name_index.get(ref.lower())
            if decl is not None:
                self.ensure(decl)
                return next((i for i in decl.instances if i.name.lower() == ref.lower()), None)
            return None
        rid = norm(self.absolute_id(ref, scope))
        inst = self.by_id.get(rid)
        if inst is not None:
            return inst
        for s in [scope] + [x for x in self.scopes if x is not scope]:
            self.build_index(s)
            decl = (s.id_index or {}).get(rid)
            if decl is not None:
                self.ensure(decl)
                return self.by_id.get(rid)
        return None

    def build_index(self, scope: Scope) -> None:
        if scope.id_index is not None:
            return
        scope.id_index = {}
        for decl in scope.decls:
            try:
                for ctx in self.instance_ctxs(decl):
                    rid, rtype, name = self.identify(decl, ctx)
                    scope.id_index[norm(rid)] = decl
                    scope.name_index[name.lower()] = decl
            except (Unsupported, ExpressionSyntaxError):
                continue

    def reference(self, args: tuple[Any, ...], ctx: Ctx) -> Any:
        if not args:
            raise Unsupported("reference() needs a resource")
        values = [materialize(self.ev(a, ctx)) for a in args]
        ref = to_str(values[0])
        full = len(values) > 2 and to_str(values[2]).lower() == "full"
        if is_symbolic(ref):
            raise Unsupported(f"reference() to a resource known only after deployment ({ref})")
        inst = self.find(ref, ctx.scope)
        if inst is None:
            if "/" not in ref:
                raise Unsupported(f"reference('{ref}') names no resource of this template")
            return Unknown(norm(self.absolute_id(ref, ctx.scope)), "", None, full)
        if inst.type.lower() == DEPLOYMENTS:
            known: dict[str, Any] = {"outputs": inst.outputs or {}, "provisioningState": "Succeeded"}
            if full:
                return Unknown(norm(inst.id), "", {"id": inst.id, "name": inst.name, "type": inst.type,
                                                   "properties": known}, True)
            return Unknown(norm(inst.id), "", known)
        if inst.resource is None:
            return Unknown(norm(inst.id), "", None, full)
        if full:
            return Unknown(norm(inst.id), "", inst.resource, True)
        props = inst.resource.get("properties")
        return Unknown(norm(inst.id), "", props if isinstance(props, dict) else {})

    # -- resources --------------------------------------------------------------------------------
    def ensure(self, decl: Decl) -> None:
        if decl.state != 0:
            return
        decl.state = 1
        try:
            self.eval_decl(decl)
        except (Unsupported, ExpressionSyntaxError) as exc:
            self.record(None, decl.path, str(exc))
        except Exception as exc:  # a template shape nothing anticipated: report it, never crash the scan
            self.record(None, decl.path, f"could not evaluate this resource ({type(exc).__name__}: {exc})")
        finally:
            decl.state = 2

    def instance_ctxs(self, decl: Decl) -> list[Ctx]:
        base = Ctx(self, decl.scope, dict(decl.parent_copy))
        copy = decl.raw.get("copy")
        if not isinstance(copy, dict):
            return [base]
        count = self.count(copy.get("count"), base)
        name = copy.get("name")
        out = []
        for i in range(count):
            c = dict(decl.parent_copy)
            c[None] = i
            if name:
                c[str(name).lower()] = i
            out.append(Ctx(self, decl.scope, c))
        return out

    def identify(self, decl: Decl, ctx: Ctx) -> tuple[str, str, str]:
        """(id, full type, full name) of one instance of ``decl``."""
        raw = decl.raw
        rtype = to_str(materialize(self.scalar(raw.get("type"), ctx)))
        name = to_str(materialize(self.scalar(raw.get("name"), ctx)))
        if not rtype or "/" not in rtype and decl.parent is None:
            raise Unsupported(f"resource type {rtype!r} is not a provider type")
        if not name:
            raise Unsupported("resource has no name")
        if decl.parent is not None and "." not in rtype.split("/")[0]:
            rtype = f"{decl.parent.type}/{rtype}"
            name = f"{decl.parent.name}/{name}"
        if rtype.lower() == DEPLOYMENTS:
            target = self.deployment_target(raw, ctx)
            return build_id(target.prefix(), rtype, [name]), rtype, name
        base = self.resource_base(raw, ctx, decl)
        return build_id(base, rtype, [name]), rtype, name

    def resource_base(self, raw: dict[str, Any], ctx: Ctx, decl: Decl) -> str:
        """The scope id a resource lives under: its ``scope`` (extension resources) or the deployment's."""
        if decl.parent is not None:
            return decl.parent.id[:max(decl.parent.id.lower().rfind("/providers/"), 0)]
        scope_raw = raw.get("scope")
        if scope_raw is None:
            return ctx.scope.target.prefix()
        value = to_str(materialize(self.scalar(scope_raw, ctx)))
        if value == "/":
            return ""
        if ctx.scope.lang2 and "/" not in value and value.lower() in ctx.scope.symbols:
            inst = self.find(value, ctx.scope)
            if inst is None:
                raise Unsupported(f"scope '{value}' names a resource that is not created")
            return inst.id
        return self.absolute_id(value, ctx.scope).rstrip("/")

    def deployment_target(self, raw: dict[str, Any], ctx: Ctx) -> Target:
        """Where a nested deployment deploys: its subscriptionId / resourceGroup / scope, else the parent's."""
        parent = ctx.scope.target
        sub = raw.get("subscriptionId")
        rg = raw.get("resourceGroup")
        scope_raw = raw.get("scope")
        location = raw.get("location")
        loc = to_str(materialize(self.scalar(location, ctx))) if location is not None else parent.location
        sub_v = to_str(materialize(self.scalar(sub, ctx))) if sub is not None else None
        rg_v = to_str(materialize(self.scalar(rg, ctx))) if rg is not None else None
        if scope_raw is not None:
            text = to_str(materialize(self.scalar(scope_raw, ctx))).strip("/")
            segs = text.split("/")
            low = [s.lower() for s in segs]
            if "managementgroups" in low:
                mg = segs[low.index("managementgroups") + 1]
                return Target("managementGroup", parent.subscription_id, None, loc, parent.tenant_id, mg)
            if "subscriptions" in low:
                sub_v = segs[low.index("subscriptions") + 1]
            if "resourcegroups" in low:
                rg_v = segs[low.index("resourcegroups") + 1]
            if text == "":
                return Target("tenant", parent.subscription_id, None, loc, parent.tenant_id)
        if rg_v:
            return Target("resourceGroup", sub_v or parent.subscription_id, rg_v, loc, parent.tenant_id)
        if sub_v:
            return Target("subscription", sub_v, None, loc, parent.tenant_id)
        inner = (raw.get("properties") or {}).get("template")
        if isinstance(inner, dict):
            kind = schema_kind(inner, parent.kind)
            if kind != parent.kind and kind in ("subscription", "tenant", "managementGroup"):
                return Target(kind, parent.subscription_id, None, loc, parent.tenant_id,
                              parent.management_group)
        return Target(parent.kind, parent.subscription_id, parent.resource_group, parent.location,
                      parent.tenant_id, parent.management_group)

    def eval_decl(self, decl: Decl) -> None:
        try:
            ctxs = self.instance_ctxs(decl)
        except (Unsupported, ExpressionSyntaxError) as exc:
            self.record(None, json_path(decl.path, "copy"), f"resource copy loop not expanded: {exc}")
            return
        for ctx in ctxs:
            self.eval_instance(decl, ctx)

    def eval_instance(self, decl: Decl, ctx: Ctx) -> None:
        raw = decl.raw
        try:
            rid, rtype, name = self.identify(decl, ctx)
        except (Unsupported, ExpressionSyntaxError) as exc:
            self.record(None, decl.path, f"resource name/type/scope not evaluated: {exc}")
            return
        ctx = Ctx(self, ctx.scope, ctx.copy, rid=rid)
        if "condition" in raw:
            try:
                cond = materialize(self.scalar(raw["condition"], ctx))
            except (Unsupported, ExpressionSyntaxError) as exc:
                self.record(rid, json_path(decl.path, "condition"),
                            f"condition not evaluated, resource assumed to be created: {exc}")
                cond = True
            if cond is False:
                return
            if cond is not True:
                self.record(rid, json_path(decl.path, "condition"),
                            f"condition is {to_str(cond)!r}, not a boolean; resource assumed to be created")
        inst = Instance(rid, name, rtype, existing=bool(raw.get("existing")))
        decl.instances.append(inst)
        self.by_id[norm(rid)] = inst
        if inst.existing:
            return
        if rtype.lower() == DEPLOYMENTS:
            self.eval_deployment(decl, inst, ctx)
            return
        res: dict[str, Any] = {"id": rid, "name": name.split("/")[-1], "type": rtype}
        for key in RESOURCE_KEYS:
            if key in raw:
                res[key] = self.value(raw[key], ctx, json_path(decl.path, key))
        try:
            res = materialize(res)
        except Unsupported as exc:
            self.record(rid, decl.path, str(exc))
            res = {k: v for k, v in res.items() if not isinstance(v, Lambda)}
        base = self.resource_base(raw, ctx, decl) if decl.parent is None else None
        add_runtime_values(res, base if base is not None else ctx.scope.target.prefix())
        inst.resource = res
        self.resources.append(res)
        self.locations[norm(rid)] = {"file": self.file, "line": self.lines.get(decl.path),
                                     "json_path": decl.path}
        children = raw.get("resources")
        if isinstance(children, list):
            cpath = json_path(decl.path, "resources")
            for i, child in enumerate(children):
                if isinstance(child, dict):
                    cd = Decl(child, json_path(cpath, i), decl.scope, parent=inst, parent_copy=dict(ctx.copy))
                    self.ensure(cd)

    def eval_deployment(self, decl: Decl, inst: Instance, ctx: Ctx) -> None:
        raw = decl.raw
        props = raw.get("properties") or {}
        ppath = json_path(decl.path, "properties")
        if "templateLink" in props:
            self.record(inst.id, json_path(ppath, "templateLink"),
                        "linked template (templateLink) is not fetched; its resources are not audited")
            inst.outputs = {}
            return
        inner = props.get("template")
        if not isinstance(inner, dict):
            self.record(inst.id, ppath, "nested deployment has no inline template")
            inst.outputs = {}
            return
        target = self.deployment_target(raw, ctx)
        if target.kind == "resourceGroup" and not target.resource_group:
            self.record(inst.id, decl.path, "nested resource-group deployment without a resource group")
            inst.outputs = {}
            return
        options = props.get("expressionEvaluationOptions") or {}
        inner_scope = str(options.get("scope") or "outer").lower() == "inner"
        tpath = json_path(ppath, "template")
        dep_name = inst.name.split("/")[-1]
        if inner_scope:
            params: dict[str, Any] = {}
            given = props.get("parameters") or {}
            if not isinstance(given, dict):
                self.record(inst.id, json_path(ppath, "parameters"), "parameters is not an object")
                given = {}
            for pname, entry in given.items():
                epath = json_path(json_path(ppath, "parameters"), pname)
                if is_expression(entry):  # Bicep emits createObject('value', ...) for conditional values
                    entry = materialize(self.value(entry, ctx, epath))
                    if isinstance(entry, dict) and "value" in entry:
                        params[pname] = entry["value"]
                    else:
                        self.record(inst.id, epath, "parameter expression does not give an object with 'value'")
                elif isinstance(entry, dict) and "value" not in entry and isinstance(entry.get("copy"), list):
                    built = self.value(entry, ctx, epath)  # a property copy that builds the 'value' array
                    params[pname] = materialize(built.get("value"))
                elif isinstance(entry, dict) and "value" in entry:
                    params[pname] = materialize(self.value(entry["value"], ctx, json_path(epath, "value")))
                elif isinstance(entry, dict) and "reference" in entry:
                    params[pname] = keyvault_symbol(entry["reference"])
                else:
                    self.record(inst.id, epath, "parameter value is neither {value} nor {reference}")
            scope = Scope(inner, tpath, target, dep_name, params, parent=decl.scope, outer=False)
            for pname, pdecl in scope.param_decls.items():
                if "defaultValue" not in pdecl and not any(k.lower() == pname for k in params):
                    self.record(inst.id, json_path(json_path(tpath, "parameters"), pname),
                                f"nested deployment gives no value for required parameter '{pname}'")
            inst.outputs = self.run_scope(scope, {})
        else:
            scope = Scope(inner, tpath, target, dep_name, {}, parent=decl.scope, outer=True)
            inst.outputs = self.run_scope(scope, dict(ctx.copy))

    def eval_outputs(self, scope: Scope, base_copy: dict[Any, int]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        opath = json_path(scope.path, "outputs")
        for name, o in (scope.template.get("outputs") or {}).items():
            if not isinstance(o, dict):
                continue
            path = json_path(opath, name)
            ctx = Ctx(self, scope, dict(base_copy))
            if "condition" in o:
                try:
                    if materialize(self.scalar(o["condition"], ctx)) is False:
                        continue
                except (Unsupported, ExpressionSyntaxError) as exc:
                    self.record(None, json_path(path, "condition"), str(exc))
            copy = o.get("copy")
            if isinstance(copy, dict):
                try:
                    count = self.count(copy.get("count"), ctx)
                except (Unsupported, ExpressionSyntaxError) as exc:
                    self.record(None, json_path(path, "copy"), f"output copy count: {exc}")
                    continue
                value: Any = [self.value(copy.get("input"), ctx.with_copy(None, i), json_path(path, "copy"))
                              for i in range(count)]
            else:
                value = self.value(o.get("value"), ctx, json_path(path, "value"))
            try:
                value = materialize(value)
            except Unsupported as exc:
                self.record(None, path, str(exc))
                continue
            out[name] = {"type": o.get("type"), "value": value}
        return out


def keyvault_symbol(reference: Any) -> str:
    """A parameter given as a Key Vault reference: an unknown secret, named but never read."""
    if not isinstance(reference, dict):
        return symbol("keyvault", "secret")
    vault = norm(str((reference.get("keyVault") or {}).get("id") or "keyvault"))
    return symbol(f"{vault}/secrets/{str(reference.get('secretName') or '').lower()}", "secret")


#: Sub-resources declared inline in a parent's properties; ARM's GET gives each an id (and a type).
INLINE_CHILDREN: dict[str, tuple[tuple[str, str], ...]] = {
    "microsoft.network/virtualnetworks": (("subnets", "subnets"), ("virtualNetworkPeerings", "virtualNetworkPeerings")),
    "microsoft.network/networksecuritygroups": (("securityRules", "securityRules"),),
    "microsoft.network/routetables": (("routes", "routes"),),
    "microsoft.network/serviceendpointpolicies": (("serviceEndpointPolicyDefinitions",
                                                   "serviceEndpointPolicyDefinitions"),),
    "microsoft.network/privateendpoints": (("privateLinkServiceConnections", "privateLinkServiceConnections"),
                                           ("manualPrivateLinkServiceConnections", "privateLinkServiceConnections")),
}


def add_inline_ids(res: dict[str, Any]) -> None:
    """Give inline sub-resources (a VNet's subnets, an NSG's rules) the ids ARM reports for them."""
    props = res.get("properties")
    children = INLINE_CHILDREN.get(res["type"].lower())
    if not children or not isinstance(props, dict):
        return
    for key, segment in children:
        items = props.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("name"), str) and not item.get("id"):
                item["id"] = f"{res['id']}/{segment}/{item['name']}"
                item.setdefault("type", f"{res['type']}/{segment}")


def add_runtime_values(res: dict[str, Any], scope_id: str) -> None:
    """Fill properties ARM only knows after deployment with symbols that name their resource."""
    rid = norm(res["id"])
    rtype = res["type"].lower()
    add_inline_ids(res)
    props = res.get("properties")
    if rtype == "microsoft.managedidentity/userassignedidentities":
        if not isinstance(props, dict):
            props = res["properties"] = {}
        for key in ("principalId", "clientId", "tenantId"):
            props.setdefault(key, symbol(rid, key))
    if rtype in ("microsoft.authorization/roleassignments", "microsoft.authorization/roleeligibilityschedulerequests"):
        if not isinstance(props, dict):
            props = res["properties"] = {}
        props.setdefault("scope", scope_id)
    identity = res.get("identity")
    if isinstance(identity, dict):
        itype = str(identity.get("type") or "").lower()
        if "systemassigned" in itype:
            identity.setdefault("principalId", symbol(rid, "identity.principalId"))
            identity.setdefault("tenantId", symbol(rid, "identity.tenantId"))
        uai = identity.get("userAssignedIdentities")
        if isinstance(uai, dict):
            for key in list(uai):
                entry = uai[key] if isinstance(uai[key], dict) else {}
                entry.setdefault("principalId", symbol(norm(key), "principalId"))
                entry.setdefault("clientId", symbol(norm(key), "clientId"))
                uai[key] = entry


# -- functions that need the evaluator (unevaluated argument nodes) -----------------------------------

def _f_parameters(ex: TemplateExpander, args: tuple[Any, ...], ctx: Ctx) -> Any:
    if len(args) != 1:
        raise FunctionError("parameters() takes one argument")
    name = to_str(materialize(ex.ev(args[0], ctx)))
    if ctx.fparams is not None:
        if name.lower() in ctx.fparams:
            return ctx.fparams[name.lower()]
        raise Unsupported(f"function parameter '{name}' is not declared")
    return ex.parameter(ctx.scope, name)


def _f_variables(ex: TemplateExpander, args: tuple[Any, ...], ctx: Ctx) -> Any:
    if len(args) != 1:
        raise FunctionError("variables() takes one argument")
    return ex.variable(ctx.scope, to_str(materialize(ex.ev(args[0], ctx))))


def _f_copy_index(ex: TemplateExpander, args: tuple[Any, ...], ctx: Ctx) -> int:
    values = [materialize(ex.ev(a, ctx)) for a in args]
    loop: str | None = None
    offset = 0
    for v in values:
        if isinstance(v, str):
            loop = v
        elif isinstance(v, int) and not isinstance(v, bool):
            offset = v
        else:
            raise FunctionError("copyIndex() takes a loop name and/or an integer offset")
    key = loop.lower() if loop is not None else None
    if key is not None and key not in ctx.copy:
        # property and variable loops are registered under their name as written
        key = next((k for k in ctx.copy if isinstance(k, str) and k.lower() == key), key)
    if key not in ctx.copy:
        raise Unsupported(f"copyIndex({loop or ''}) used outside that copy loop")
    return ctx.copy[key] + offset


def _f_if(ex: TemplateExpander, args: tuple[Any, ...], ctx: Ctx) -> Any:
    if len(args) != 3:
        raise FunctionError("if() takes three arguments")
    cond = materialize(ex.ev(args[0], ctx))
    if not isinstance(cond, bool):
        raise Unsupported(f"if() condition is {to_str(cond)!r}, not a boolean known before deployment")
    return ex.ev(args[1] if cond else args[2], ctx)


def _f_and(ex: TemplateExpander, args: tuple[Any, ...], ctx: Ctx) -> bool:
    for a in args:
        v = materialize(ex.ev(a, ctx))
        if not isinstance(v, bool):
            raise Unsupported(f"and() argument {to_str(v)!r} is not a boolean")
        if not v:
            return False
    return True


def _f_or(ex: TemplateExpander, args: tuple[Any, ...], ctx: Ctx) -> bool:
    for a in args:
        v = materialize(ex.ev(a, ctx))
        if not isinstance(v, bool):
            raise Unsupported(f"or() argument {to_str(v)!r} is not a boolean")
        if v:
            return True
    return False


def _f_lambda(ex: TemplateExpander, args: tuple[Any, ...], ctx: Ctx) -> Lambda:
    if len(args) < 2:
        raise FunctionError("lambda() needs parameter names and a body")
    names = []
    for a in args[:-1]:
        v = materialize(ex.ev(a, ctx))
        if not isinstance(v, str):
            raise FunctionError("lambda() parameter names must be strings")
        names.append(v)
    return Lambda(tuple(names), args[-1], dict(ctx.lvars))


def _f_lambda_variables(ex: TemplateExpander, args: tuple[Any, ...], ctx: Ctx) -> Any:
    name = to_str(materialize(ex.ev(args[0], ctx))) if args else ""
    if name not in ctx.lvars:
        raise Unsupported(f"lambdaVariables('{name}') outside its lambda")
    return ctx.lvars[name]


def _f_reference(ex: TemplateExpander, args: tuple[Any, ...], ctx: Ctx) -> Any:
    return ex.reference(args, ctx)


def _f_resource_info(ex: TemplateExpander, args: tuple[Any, ...], ctx: Ctx) -> dict[str, Any]:
    ref = to_str(materialize(ex.ev(args[0], ctx))) if args else ""
    inst = ex.find(ref, ctx.scope)
    if inst is None:
        raise Unsupported(f"resourceInfo('{ref}') names no resource of this template")
    return {"id": inst.id, "name": inst.name, "type": inst.type}


def _f_coalesce(ex: TemplateExpander, args: tuple[Any, ...], ctx: Ctx) -> Any:
    for a in args:
        v = ex.ev(a, ctx)
        if v is not None:
            return v
    return None


_SPECIAL = {
    "parameters": _f_parameters, "variables": _f_variables, "copyindex": _f_copy_index, "if": _f_if,
    "and": _f_and, "or": _f_or, "lambda": _f_lambda, "lambdavariables": _f_lambda_variables,
    "reference": _f_reference, "resourceinfo": _f_resource_info, "coalesce": _f_coalesce,
}
