"""A small kustomize for the tests: renders deploy/kubernetes's kustomizations the way
`kustomize build` (kubectl kustomize, kustomize v5) does, for the features they use and no
others (kustomize itself is not installable from the registries this project reaches).

Supported, with kustomize's semantics:
- `resources`: YAML files (one or more documents) and directories holding a
  kustomization.yaml, rendered first (a base), in order;
- `configMapGenerator`: `files` (`key=path` or `path`) and `literals`; `behavior` create or
  merge (onto a generator of the same name from a base); the name gets kustomize's content
  hash suffix (sigs.k8s.io/kustomize/api/hasher: sha256 of the JSON {data, kind, name: ""},
  first 10 hex digits, 0 1 3 a e -> g h k m t) unless `generatorOptions.disableNameSuffixHash`;
  references to a generated ConfigMap (volumes, envFrom, env valueFrom) follow its new name;
- `labels`: `pairs` on metadata.labels; with `includeSelectors` also on selectors and pod
  templates, with `includeTemplates` on pod templates;
- `images`: `newName` / `newTag` for containers and init containers whose image name matches;
- `namespace`: set on every namespaced object (not on Namespace and other cluster-scoped kinds);
- `patches` with `path`: strategic merge patches, matched by apiVersion group, kind and
  name, lists merged by their Kubernetes merge keys (containers and initContainers by name,
  env by name, volumes by name, volumeMounts by mountPath, ports by containerPort) and
  replaced otherwise, as the API's patchStrategy says.
Anything else in a kustomization (or a patch for a missing object) is an error here, so a
kustomization cannot silently use a feature this renderer would get wrong.
Cross-checked against kubectl 1.35.2 (kustomize v5.7.1): the same objects, byte for byte
after YAML parsing (see docs/scaling.md).
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import yaml

SUPPORTED = {
    "apiVersion",
    "kind",
    "resources",
    "configMapGenerator",
    "generatorOptions",
    "labels",
    "images",
    "namespace",
    "patches",
}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PriorityClass",
    "StorageClass",
    "PersistentVolume",
}
# Strategic merge: lists merged by key (k8s.io/api patchMergeKey), everything else replaced.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}


class KustomizeError(ValueError):
    pass


def build(directory: Path) -> list[dict]:
    objects, _ = _build(Path(directory).resolve())
    return objects


def _load_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _kustomization(directory: Path) -> dict:
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        if (directory / name).is_file():
            data = yaml.safe_load((directory / name).read_text()) or {}
            unknown = set(data) - SUPPORTED
            if unknown:
                raise KustomizeError(f"{directory}: fields this renderer does not do: {unknown}")
            return data
    raise KustomizeError(f"{directory} has no kustomization.yaml")


def _inside(directory: Path, relative: str) -> Path:
    path = (directory / relative).resolve()
    # kustomize's default load restrictor: files only from within the kustomization's root.
    if directory != path and directory not in path.parents:
        raise KustomizeError(f"{relative}: outside {directory} (kustomize refuses to load it)")
    return path


def _build(directory: Path) -> tuple[list[dict], dict[str, str]]:
    """The objects, and the generated ConfigMaps' original -> hashed names."""
    k = _kustomization(directory)
    objects: list[dict] = []
    renamed: dict[str, str] = {}
    for entry in k.get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            sub_objects, sub_renamed = _build(target)
            objects += sub_objects
            renamed.update(sub_renamed)
        else:
            objects += _load_documents(_inside(directory, entry))

    hash_names = not (k.get("generatorOptions") or {}).get("disableNameSuffixHash", False)
    for generator in k.get("configMapGenerator", []):
        data = {}
        for item in generator.get("files", []):
            key, _, path = item.rpartition("=")
            file = _inside(directory, path)
            data[key or file.name] = file.read_text()
        for literal in generator.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        unknown = set(generator) - {"name", "files", "literals", "behavior"}
        if unknown:
            raise KustomizeError(f"configMapGenerator {generator['name']}: {unknown}")
        behavior = generator.get("behavior", "create")
        name = generator["name"]
        if behavior == "merge":
            matches = [o for o in objects if o["kind"] == "ConfigMap" and _original(o) == name]
            if len(matches) != 1:
                raise KustomizeError(f"configMapGenerator {name}: nothing to merge into")
            base = matches[0]
            base["data"] = {**base.get("data", {}), **data}
            _rehash(base, renamed)
        elif behavior == "create":
            cm = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "annotations": {"x-original-name": name}},
                "data": data,
            }
            if hash_names:
                cm["metadata"]["annotations"]["x-hash"] = "1"
            objects.append(cm)
            _rehash(cm, renamed)
        else:
            raise KustomizeError(f"configMapGenerator {name}: behavior {behavior}")

    for patch in k.get("patches", []):
        if set(patch) != {"path"}:
            raise KustomizeError(f"patches: only `path` (strategic merge) is rendered: {patch}")
        for document in _load_documents(_inside(directory, patch["path"])):
            _apply_patch(objects, document)

    for label in k.get("labels", []):
        unknown = set(label) - {"pairs", "includeSelectors", "includeTemplates"}
        if unknown:
            raise KustomizeError(f"labels: {unknown}")
        for obj in objects:
            _add_labels(
                obj,
                label["pairs"],
                label.get("includeSelectors", False),
                label.get("includeTemplates", False),
            )

    for image in k.get("images", []):
        for obj in objects:
            for container in _containers(obj):
                name, tag = _split_image(container["image"])
                if name == image["name"]:
                    new_name = image.get("newName", name)
                    new_tag = image.get("newTag", tag)
                    container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name

    if "namespace" in k:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = k["namespace"]

    for obj in objects:
        _follow_renames(obj, renamed)
    return objects, renamed


def _original(obj: dict) -> str:
    return obj["metadata"].get("annotations", {}).get("x-original-name", obj["metadata"]["name"])


def _go_json(value) -> str:
    """encoding/json.Marshal: sorted keys, no spaces, UTF-8, and HTML characters escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def _kustomize_hash(data: dict) -> str:
    # kustomize v5's hasher looks the name up as the single key "metadata/name", finds
    # nothing and hashes "" in its place: only the data decide (checked against kubectl).
    encoded = _go_json({"data": data, "kind": "ConfigMap", "name": ""})
    digest = hashlib.sha256(encoded.encode()).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def _rehash(cm: dict, renamed: dict[str, str]) -> None:
    """Name cm by its data; references to any earlier name of it follow (a base's objects
    already point at the base's hash when an overlay merges more data in)."""
    original, before = _original(cm), cm["metadata"]["name"]
    if cm["metadata"]["annotations"].get("x-hash"):
        cm["metadata"]["name"] = f"{original}-{_kustomize_hash(cm['data'])}"
    for name in (original, before):
        renamed[name] = cm["metadata"]["name"]


def _follow_renames(obj: dict, renamed: dict[str, str]) -> None:
    spec = _pod_spec(obj)
    if spec is not None:
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                volume["configMap"]["name"] = renamed.get(
                    volume["configMap"]["name"], volume["configMap"]["name"]
                )
        for container in _containers(obj):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    ref = source["configMapRef"]
                    ref["name"] = renamed.get(ref["name"], ref["name"])
            for env in container.get("env", []):
                ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
                if ref:
                    ref["name"] = renamed.get(ref["name"], ref["name"])


def strip_internal(objects: list[dict]) -> list[dict]:
    """The objects as kustomize prints them (without this renderer's bookkeeping)."""
    result = copy.deepcopy(objects)
    for obj in result:
        annotations = obj["metadata"].get("annotations", {})
        annotations.pop("x-original-name", None)
        annotations.pop("x-hash", None)
        if not annotations:
            obj["metadata"].pop("annotations", None)
    return result


def _pod_spec(obj: dict) -> dict | None:
    if obj["kind"] in POD_TEMPLATE_KINDS:
        return obj["spec"]["template"]["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def _containers(obj: dict) -> list[dict]:
    spec = _pod_spec(obj)
    if spec is None:
        return []
    return spec.get("initContainers", []) + spec.get("containers", [])


def _split_image(image: str) -> tuple[str, str]:
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return image, ""
    return name, tag


def _add_labels(obj: dict, pairs: dict, selectors: bool, templates: bool) -> None:
    if selectors:
        # Selectors of every kind (PDB, NetworkPolicy, HPA targets ...): not rendered here.
        raise KustomizeError("labels.includeSelectors is not rendered by this renderer")
    obj["metadata"].setdefault("labels", {}).update(pairs)
    if templates and obj["kind"] in POD_TEMPLATE_KINDS:
        obj["spec"]["template"]["metadata"].setdefault("labels", {}).update(pairs)


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _apply_patch(objects: list[dict], patch: dict) -> None:
    matches = [
        o
        for o in objects
        if o["kind"] == patch["kind"]
        and _group(o["apiVersion"]) == _group(patch["apiVersion"])
        and o["metadata"]["name"] == patch["metadata"]["name"]
    ]
    if len(matches) != 1:
        raise KustomizeError(f"patch for {patch['kind']} {patch['metadata']['name']}: no target")
    body = {key: value for key, value in patch.items() if key not in ("apiVersion", "kind")}
    body["metadata"] = {k: v for k, v in patch["metadata"].items() if k != "name"}
    if not body["metadata"]:
        del body["metadata"]
    _merge(matches[0], body)


def _merge(target: dict, patch: dict) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(target.get(key), list):
            merge_key = MERGE_KEYS[key]
            for item in value:
                existing = [t for t in target[key] if t.get(merge_key) == item.get(merge_key)]
                if existing:
                    _merge(existing[0], item)
                else:
                    target[key].append(copy.deepcopy(item))
        else:
            target[key] = copy.deepcopy(value)
