"""Which text classifier a helpdesk's policy reads tickets with.

A policy without `triage` conditions gets none (nothing is loaded). Otherwise the shipped
model (tierlift.triage, in the wheel) is loaded once per process and shared by every
helpdesk; a helpdesk whose refit an operator accepted (`tierlift triage accept`) reads with
that one instead. Loading never touches the network.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from tierlift.engine.policy import Policy
from tierlift.engine.triage import Classifier
from tierlift.triage.model import Blend, CachedClassifier, LinearModel, load_shipped, loads

_lock = threading.RLock()
_shipped: CachedClassifier | None = None
_shipped_model: LinearModel | None = None
_accepted: dict[tuple[str, str], CachedClassifier] = {}


def uses_triage(policy: Policy) -> bool:
    rules = [*policy.rules, *(r for t in policy.tiers.values() for r in t.rules)]
    return any(r.when is not None and r.when.triage for r in rules)


def shipped_classifier() -> CachedClassifier:
    """The shipped model, loaded on first use and shared (it is read-only)."""
    global _shipped
    with _lock:
        if _shipped is None:
            _shipped = CachedClassifier(shipped_model())
        return _shipped


def shipped_model() -> LinearModel:
    global _shipped_model
    with _lock:
        if _shipped_model is None:
            _shipped_model = load_shipped()
        return _shipped_model


def classifier_for(policy: Policy, accepted: CachedClassifier | None = None) -> Classifier | None:
    """The classifier `policy` reads with: none when it asks nothing of one, else the
    helpdesk's accepted refit or the shipped model."""
    if not uses_triage(policy):
        return None
    return accepted or shipped_classifier()


class AcceptedModels(Protocol):
    def accepted_triage_model(self, helpdesk: str) -> str | None: ...

    def triage_model(self, helpdesk: str, model_id: str) -> bytes | None: ...

    def triage_models(self, helpdesk: str) -> list[dict[str, Any]]: ...


def accepted_classifier(store: AcceptedModels, helpdesk: str) -> CachedClassifier | None:
    """The helpdesk's accepted refit (the shipped model blended with its own head), loaded once
    per model id; None when none was accepted."""
    model_id = store.accepted_triage_model(helpdesk)
    if model_id is None:
        return None
    with _lock:
        hit = _accepted.get((helpdesk, model_id))
    if hit is not None:
        return hit
    blob = store.triage_model(helpdesk, model_id)
    figures: dict[str, Any] = next((m["figures"] for m in store.triage_models(helpdesk)
                                    if m["model_id"] == model_id), {})
    if blob is None:
        return None
    made = CachedClassifier(Blend(shipped_model(), loads(blob, f"state: triage model {model_id}"),
                                  float(figures.get("weight", 0.3))))
    with _lock:
        _accepted[(helpdesk, model_id)] = made
    return made
