#!/usr/bin/env python3
"""Generates crates/registry/src/schema/generated.rs: the protobuf schema of every Kubernetes type.

Why generated: prost types carry no reflection, and the JSON names Kubernetes shows (`podIP`,
`podCIDRs`, `$ref`) cannot be recovered from prost's snake_case field names. So this script reads
two pinned crates from cargo's registry and joins them:
  * k8s-pb 0.9.0      : message names, field tags, wire types, and the Resource impls
                        (kind, group, version, plural, scope);
  * k8s-openapi 0.29.0: the exact JSON name of every field (its serde `"json" => Field::Key_x`).
A field is matched on its name with case, `_`, `-` and `$` removed; failing that, the JSON name is
the lowerCamelCase of prost's name. An embedded Go struct (`json:",inline"`) gets the JSON name "":
its fields are shown in the parent object.

Usage: python3 crates/registry/gen/schema.py > crates/registry/src/schema/generated.rs
(`cargo fetch` in a scratch crate depending on k8s-openapi 0.29 brings its source.)
"""
import glob
import os
import re
import sys

REG = os.path.expanduser("~/.cargo/registry/src")
PB = sorted(glob.glob(f"{REG}/*/k8s-pb-0.9.0/src"))[0]
OPENAPI = sorted(glob.glob(f"{REG}/*/k8s-openapi-0.29.0/src"))[0]


def norm(name):
    return re.sub(r"[^a-z0-9]", "", name.lower())


def camel(snake):
    parts = snake.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


# ---- JSON names from k8s-openapi (union over its Kubernetes versions, newest wins) ----
json_by_struct = {}  # (module, Struct) -> {norm: json}
json_global = {}
for vdir in sorted(glob.glob(f"{OPENAPI}/v1_*")):
    for path in glob.glob(f"{vdir}/**/*.rs", recursive=True):
        module = ".".join(os.path.relpath(os.path.dirname(path), vdir).split(os.sep))
        text = open(path, encoding="utf-8").read()
        m = re.search(r"pub struct (\w+)", text)
        if not m:
            continue
        names = json_by_struct.setdefault((module, m.group(1)), {})
        for j in re.findall(r'"([^"]+)" => Field::Key_\w+', text):
            names[norm(j)] = j
            json_global.setdefault(norm(j), j)

# ---- messages and resources from k8s-pb ----
FIELD_RE = re.compile(
    r"#\[prost\((?P<kind>[a-z0-9_]+)(?: = \"(?P<arg>[^\"]*)\")?(?P<rest>[^\]]*)tag = \"(?P<tag>\d+)\"\)\]\s*"
    r"pub (?:r#)?(?P<name>\w+):\s*(?P<ty>.*?),\n(?=\s*(?:///|#\[|\Z))", re.S)
STRUCT_RE = re.compile(r"pub struct (\w+) \{(?:\}|(.*?)\n\})", re.S)
RES_RE = re.compile(
    r"impl crate::Resource for (\w+) \{\s*const API_VERSION: &'static str = \"([^\"]*)\";\s*"
    r"const GROUP: &'static str = \"([^\"]*)\";\s*const VERSION: &'static str = \"([^\"]*)\";\s*"
    r"const KIND: &'static str = \"([^\"]*)\";\s*const URL_PATH_SEGMENT: &'static str = \"([^\"]*)\";\s*"
    r"type Scope = crate::(\w+);", re.S)

messages = []  # (fullname, module, [fields])
resources = []
for path in sorted(glob.glob(f"{PB}/**/mod.rs", recursive=True)):
    module = ".".join(os.path.relpath(os.path.dirname(path), PB).split(os.sep))
    text = open(path, encoding="utf-8").read()
    for sm in STRUCT_RE.finditer(text):
        sname, body = sm.group(1), (sm.group(2) or "") + "\n"
        fields = []
        for fm in FIELD_RE.finditer(body):
            fields.append(dict(kind=fm.group("kind"), arg=fm.group("arg"), rest=fm.group("rest"),
                               tag=int(fm.group("tag")), name=fm.group("name"), ty=fm.group("ty")))
        messages.append((f"{module}.{sname}", module, sname, fields))
    attrs = len(re.findall(r"#\[prost\((?!oneof)", text)) - len(re.findall(r"#\[prost\(tag", text))
    found = sum(len(m[3]) for m in messages if m[1] == module)
    if attrs != found:
        sys.exit(f"{path}: {attrs} prost field attributes but {found} fields parsed")
    for rm in RES_RE.finditer(text):
        resources.append((module, *rm.groups()))

index = {m[0]: i for i, m in enumerate(messages)}


def resolve(module, ty):
    """The full message name a Rust type path names, relative to `module`."""
    inner = re.sub(r"\s+", "", ty).replace(",>", ">")
    for wrap in ("::core::option::Option<", "::prost::alloc::vec::Vec<", "::prost::alloc::boxed::Box<"):
        while inner.startswith(wrap):
            inner = inner[len(wrap):-1]
    if inner.startswith("::prost::alloc::collections::BTreeMap<"):
        inner = inner[len("::prost::alloc::collections::BTreeMap<"):-1]
        inner = inner.split(",", 1)[1]
    parts = inner.split("::")
    mod = module.split(".")
    out = []
    for p in parts[:-1]:
        if p == "super":
            mod = mod[:-1]
        elif p == "crate":
            mod = []
        elif p == "":
            continue
        else:
            mod = mod + [p]
    name = ".".join(mod + [parts[-1]])
    if name not in index:
        sys.exit(f"unresolved type {ty!r} in {module}")
    return index[name]


def rust_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


SCALARS = {"string": "Ty::String", "bytes": "Ty::Bytes", "bool": "Ty::Bool", "int32": "Ty::Int32",
           "int64": "Ty::Int64", "double": "Ty::Double"}
missed = 0
out = []
out.append("// @generated by crates/registry/gen/schema.py from k8s-pb 0.9.0 and k8s-openapi 0.29.0.")
out.append("// Do not edit: rerun the script.")
out.append("use super::{FieldDef, MapValue, MessageDef, ResourceDef, Ty};\n")
out.append(f"pub static MESSAGES: [MessageDef; {len(messages)}] = [")
for full, module, sname, fields in messages:
    names = json_by_struct.get((module, sname), {})
    out.append(f"    MessageDef {{ name: {rust_str(full)}, fields: &[")
    for f in sorted(fields, key=lambda f: f["tag"]):
        key = norm(f["name"])
        json = names.get(key)
        if json is None and names and f["kind"] == "message" and "repeated" not in f["rest"]:
            # Go's embedded structs (`json:",inline"`): the message's fields sit in the parent.
            inner = messages[resolve(module, f["ty"])][3]
            if inner and all(norm(g["name"]) in names for g in inner):
                json = ""
        if json is None:
            json = json_global.get(key)
        if json is None:
            json = camel(f["name"])
            missed += 1
        repeated = "repeated" in f["rest"]
        kind = f["kind"]
        if kind == "btree_map":
            v = f["arg"].split(",")[1].strip()
            if v == "message":
                ty = f"Ty::Map(MapValue::Message({resolve(module, f['ty'])}))"
            else:
                ty = {"string": "Ty::Map(MapValue::String)", "bytes": "Ty::Map(MapValue::Bytes)"}[v]
        elif kind == "message":
            ty = f"Ty::Message({resolve(module, f['ty'])})"
        else:
            ty = SCALARS[kind]
        out.append(f"        FieldDef {{ tag: {f['tag']}, json: {rust_str(json)}, ty: {ty}, repeated: {str(repeated).lower()} }},")
    out.append("    ] },")
out.append("];\n")
out.append(f"pub static RESOURCES: [ResourceDef; {len(resources)}] = [")
for module, sname, api_version, group, version, kind, plural, scope in resources:
    msg = index[f"{module}.{sname}"]
    namespaced = "true" if scope == "NamespaceResourceScope" else "false"
    sub = "true" if scope == "SubResourceScope" else "false"
    out.append(f"    ResourceDef {{ group: {rust_str(group)}, version: {rust_str(version)}, kind: {rust_str(kind)}, "
               f"plural: {rust_str(plural)}, namespaced: {namespaced}, subresource: {sub}, message: {msg} }},")
out.append("];")
print("\n".join(out))
print(f"messages {len(messages)}, resources {len(resources)}, json names guessed {missed}", file=sys.stderr)
