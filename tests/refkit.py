"""The reference material in ../shared/reference: where it is, how to read the recordings,
and the official OpenAPI files' response schemas.

CI always has ../shared beside the checkout; a user's own clone may not, and
the tests that need it skip with that reason (the `shared_reference` fixture
in tests/conftest.py), nowhere else.
"""

from __future__ import annotations

import base64
import gzip
import json
import pickle
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REFERENCE = SHARED / "reference"


def recorded_bodies(path: Path) -> Iterator[tuple[str, Any]]:
    """(request URI, JSON body) of a Betamax cassette; bodies may be base64 of gzip."""
    data = json.loads(path.read_text())
    for it in data["http_interactions"]:
        body = it["response"]["body"]
        text = body.get("string") or ""
        if body.get("base64_string"):
            raw = base64.b64decode(body["base64_string"])
            try:
                raw = gzip.decompress(raw)
            except OSError:
                pass
            text = raw.decode("utf-8", "replace")
        try:
            yield it["request"]["uri"], json.loads(text)
        except ValueError:
            continue


def recorded_tickets(reference: Path) -> list[dict[str, Any]]:
    """Every distinct ticket object in the recordings, as Zendesk returned it."""
    seen: dict[int, dict[str, Any]] = {}
    for cassette in sorted((reference / "zendesk-recordings").glob("*.json")):
        for _uri, body in recorded_bodies(cassette):
            if not isinstance(body, dict):
                continue
            items = body.get("tickets") if isinstance(body.get("tickets"), list) else [body.get("ticket")]
            for t in items:
                if isinstance(t, dict) and isinstance(t.get("id"), int):
                    seen.setdefault(t["id"], t)
    return list(seen.values())


@lru_cache(maxsize=2)
def openapi(path: str) -> dict[str, Any]:
    """The parsed spec, cached on disk (PyYAML takes ~3 s on the Zendesk file)."""
    src = Path(path)
    cache = Path(tempfile.gettempdir()) / f"tierlift-openapi-{src.name}-{int(src.stat().st_mtime)}.pickle"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    if src.suffix == ".json":
        spec = json.loads(src.read_text())
    else:
        import yaml

        class Loader(yaml.SafeLoader):
            """A SafeLoader of our own, so the constructor below changes no other loader."""

        # api-facts.md: the file has a literal '=' tagged tag:yaml.org,2002:value.
        Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))
        spec = yaml.load(src.read_text(), Loader=Loader)
    cache.write_bytes(pickle.dumps(spec))
    return spec


def schema_for(spec: dict[str, Any], path: str, method: str, status: str = "200", *,
               nulls: bool = False) -> dict[str, Any]:
    """The response schema. nulls=True admits null everywhere: the Zendesk spec
    omits `nullable` on fields that real responses (the recordings) carry as null,
    such as assignee_id and group_id."""
    op = spec["paths"][path][method]
    content = op["responses"][status]["content"]["application/json"]
    return resolve(spec, content["schema"], nulls=nulls)


def resolve(spec: dict[str, Any], node: Any, depth: int = 0, nulls: bool = False) -> Any:
    """Inline $refs and turn OpenAPI 3.0 `nullable` into JSON Schema types."""
    if depth > 24:  # a ref cycle; the triggers' schemas nest past 12 levels (an action's value oneOf)
        return {}
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve(spec, target, depth + 1, nulls)
        out = {k: resolve(spec, v, depth + 1, nulls) for k, v in node.items() if k not in ("example", "examples")}
        nullable = out.pop("nullable", False) if isinstance(out.get("nullable"), bool) else False
        if nullable or nulls:
            _admit_null(out)
        if isinstance(out.get("readOnly"), bool):
            out.pop("readOnly")
        return out
    if isinstance(node, list):
        return [resolve(spec, v, depth + 1, nulls) for v in node]
    return node


def _admit_null(schema: dict[str, Any]) -> None:
    """OpenAPI 3.0's `nullable: true` as JSON Schema: null joins the type (and the enum)."""
    if not isinstance(schema.get("type"), str | list):
        return
    schema["type"] = [schema["type"], "null"] if isinstance(schema["type"], str) else [*schema["type"], "null"]
    if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
