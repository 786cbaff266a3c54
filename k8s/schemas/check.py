#!/usr/bin/env python3
"""k8s/schemas/check.py SCHEMA_DIR [FILE...] — validate the custom kinds of rendered manifests.

Reads multi-document YAML (FILEs, or stdin) such as `kubectl kustomize` prints, and checks every
document whose kind is not one of Kubernetes' own API groups against the JSON Schema in SCHEMA_DIR
that names its apiVersion and kind (x-lensflow-kind). A custom kind without a schema is an error,
so nothing reaches a cluster unchecked. Prints one line per problem, then the kinds it checked
("checked: Cluster PodMonitor ..."), on stderr. Run with the validators' venv (.venv-k8s), which
has jsonschema, referencing and PyYAML.

Exit: 0 valid; 1 invalid or unknown kind; 64 usage; 66 a file or schema cannot be read.
"""
import json
import pathlib
import sys

import jsonschema
import referencing
import yaml

# apiVersion groups that kubernetes-validate knows (Kubernetes' own); everything else is custom.
BUILTIN_GROUPS = {"", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io",
                  "storage.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "discovery.k8s.io",
                  "node.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io",
                  "certificates.k8s.io", "events.k8s.io", "flowcontrol.apiserver.k8s.io"}


def group_of(api_version):
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def load_schemas(schema_dir):
    by_kind, resources = {}, []
    for path in sorted(pathlib.Path(schema_dir).glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            print(f"check.py: cannot read schema {path}: {e}", file=sys.stderr)
            sys.exit(66)
        resources.append((doc["$id"], referencing.Resource.from_contents(doc)))
        kind = doc.get("x-lensflow-kind")
        if kind:
            by_kind[(kind["apiVersion"], kind["kind"])] = doc
    registry = referencing.Registry().with_resources(resources)
    return by_kind, registry


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__, file=sys.stderr if len(argv) < 2 else sys.stdout)
        return 64 if len(argv) < 2 else 0
    by_kind, registry = load_schemas(argv[1])
    sources = argv[2:] or ["-"]
    bad, checked = 0, set()
    for src in sources:
        try:
            text = sys.stdin.read() if src == "-" else pathlib.Path(src).read_text()
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except (OSError, yaml.YAMLError) as e:
            print(f"check.py: cannot read {src}: {e}", file=sys.stderr)
            return 66
        for doc in docs:
            api, kind = doc.get("apiVersion", ""), doc.get("kind", "")
            if group_of(api) in BUILTIN_GROUPS:
                continue
            name = (doc.get("metadata") or {}).get("name", "?")
            schema = by_kind.get((api, kind))
            if schema is None:
                print(f"{src}: {kind} {name} ({api}): no schema in {argv[1]}", file=sys.stderr)
                bad += 1
                continue
            validator = jsonschema.Draft202012Validator(schema, registry=registry)
            errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
            for e in errors:
                where = "/".join(str(p) for p in e.absolute_path) or "(top)"
                print(f"{src}: {kind} {name}: {where}: {e.message}", file=sys.stderr)
            bad += len(errors)
            checked.add(kind)
    print("checked: " + " ".join(sorted(checked)), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
