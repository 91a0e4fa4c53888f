#!/usr/bin/env python3
"""Builds tools/schemas/kubernetes-strict.json.gz: the offline schemas of the schema gate.

Sources (both Apache-2.0, see tools/schemas/NOTICE.md):
  - the PyPI wheel kubernetes-validate==1.37.0, folder kubernetes-json-schema/v1.33.0-local-strict/
    (`_definitions.json`: every Kubernetes type, objects closed with additionalProperties: false);
  - Argo CD's CRDs (Application, AppProject, ApplicationSet): spec.versions[].schema.openAPIV3Schema,
    closed the same way unless x-kubernetes-preserve-unknown-fields says otherwise.

Descriptions are dropped (they are most of the size). Usage:
  scripts/gen-schemas.py [WHEEL_OR_DIR] [ARGO_CRDS_DIR]
The wheel is fetched with `pip download` when not given.
"""
import json, os, subprocess, sys, tempfile, zipfile

K8S_VERSION = "v1.33.0"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tools", "schemas", "kubernetes-strict.json.gz")

def strip(node):
    # Only annotations go: a *property* named `description` (a schema object) stays.
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items()
                if not (k in ("description", "example", "examples") and not isinstance(v, dict))}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node

def close(node):
    """Closes every object schema that lists properties (strict about unknown fields)."""
    if isinstance(node, dict):
        node = {k: close(v) for k, v in node.items()}
        if (node.get("type") == "object" and "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [close(v) for v in node]
    return node

def load_definitions(src):
    rel = f"kubernetes_validate/kubernetes-json-schema/{K8S_VERSION}-local-strict/_definitions.json"
    if src and os.path.isdir(src):
        with open(os.path.join(src, rel)) as f:
            return json.load(f)
    if not src:
        tmp = tempfile.mkdtemp()
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp,
                        "kubernetes-validate==1.37.0"], check=True)
        src = os.path.join(tmp, os.listdir(tmp)[0])
    with zipfile.ZipFile(src) as z:
        return json.loads(z.read(rel))

def yaml_docs(path):
    try:
        import yaml  # PyYAML: `pip install pyyaml` if missing (regeneration only)
    except ImportError:
        sys.exit("scripts/gen-schemas.py needs PyYAML: pip install pyyaml")
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]

def main():
    src = sys.argv[1] if len(sys.argv) > 1 else None
    crds = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        ROOT, "..", "shared", "corpus", "gitops", "argoproj__argo-cd", "manifests", "crds")
    defs = strip(load_definitions(src)["$defs"])
    kinds = {}
    for name, d in defs.items():
        for gvk in d.get("x-kubernetes-group-version-kind", []):
            api = gvk["version"] if not gvk.get("group") else f'{gvk["group"]}/{gvk["version"]}'
            kinds[f'{api}/{gvk["kind"]}'] = name
    for file in sorted(os.listdir(crds)):
        if not file.endswith(".yaml") or "kustomization" in file:
            continue
        for crd in yaml_docs(os.path.join(crds, file)):
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            group = crd["spec"]["group"]
            kind = crd["spec"]["names"]["kind"]
            for v in crd["spec"]["versions"]:
                schema = v.get("schema", {}).get("openAPIV3Schema")
                if not schema:
                    continue
                name = f'{group}.{v["name"]}.{kind}'
                schema = close(strip(schema))
                props = schema.setdefault("properties", {})
                props.setdefault("apiVersion", {"type": "string"})
                props.setdefault("kind", {"type": "string"})
                props["metadata"] = {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
                defs[name] = schema
                kinds[f'{group}/{v["name"]}/{kind}'] = name
    bundle = {"version": K8S_VERSION, "kinds": dict(sorted(kinds.items())), "$defs": defs}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    import gzip
    data = json.dumps(bundle, separators=(",", ":"), sort_keys=True).encode()
    with gzip.GzipFile(OUT, "wb", compresslevel=9, mtime=0) as f:
        f.write(data)
    print(f"{OUT}: {len(kinds)} kinds, {len(defs)} definitions, {os.path.getsize(OUT)} bytes")

if __name__ == "__main__":
    main()
