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


class UnknownTriageModel(LookupError):
    """A helpdesk's `triage_model` names a refit the state store does not hold."""


def chosen_classifier(store: AcceptedModels, helpdesk: str, choice: str = "accepted") -> CachedClassifier | None:
    """The classifier a helpdesk's `triage_model` option names (None: the shipped model).

    `accepted` is the accepted refit, if any; `shipped` the shipped model even when a refit
    was accepted; `latest` or `HELPDESK/latest` the newest refit learnt for this (or that)
    helpdesk, accepted or not; a model id that refit. A dry-run shadow of a live helpdesk
    reads with a refit this way before anyone accepts it (`report --shadow` compares them).
    """
    chosen = chosen_model(store, helpdesk, choice)
    return None if chosen is None else _loaded(store, *chosen)


def chosen_model(store: AcceptedModels, helpdesk: str,
                 choice: str = "accepted") -> tuple[str, str, dict[str, Any]] | None:
    """The refit `choice` names, as (the helpdesk it was learnt for, its id, its figures); None:
    the shipped model. The tools (`triage eval`, `accept`, `learn`) tell from this what an
    entry reads, so that what they say is what the daemon does."""
    if choice == "shipped":
        return None
    if choice == "accepted":
        model_id = store.accepted_triage_model(helpdesk)
        if model_id is None:
            return None
        return helpdesk, model_id, next((m["figures"] for m in store.triage_models(helpdesk)
                                         if m["model_id"] == model_id), {})
    owner, _, model_id = choice.rpartition("/")
    owner = owner or (helpdesk if model_id == "latest" else _owner_of(model_id, helpdesk))
    models = store.triage_models(owner)  # newest first
    found = models[:1] if model_id == "latest" else [m for m in models if m["model_id"] == model_id]
    if not found:
        raise UnknownTriageModel(f"triage_model {choice!r}: no such refit learnt for helpdesk {owner}"
                                 " (`tierlift triage learn` makes one, `tierlift triage eval` lists them)")
    return owner, found[0]["model_id"], found[0]["figures"]


def _owner_of(model_id: str, default: str) -> str:
    """The helpdesk a model id was learnt for: ids read HELPDESK-YYYYMMDD-DIGEST."""
    parts = model_id.rsplit("-", 2)
    return parts[0] if len(parts) == 3 and parts[0] else default


def accepted_classifier(store: AcceptedModels, helpdesk: str) -> CachedClassifier | None:
    """The helpdesk's accepted refit (the shipped model blended with its own head), loaded once
    per model id; None when none was accepted."""
    return chosen_classifier(store, helpdesk, "accepted")


def _loaded(store: AcceptedModels, helpdesk: str, model_id: str,
            figures: dict[str, Any]) -> CachedClassifier | None:
    with _lock:
        hit = _accepted.get((helpdesk, model_id))
    if hit is not None:
        return hit
    blob = store.triage_model(helpdesk, model_id)
    if blob is None:
        return None
    made = CachedClassifier(Blend(shipped_model(), loads(blob, f"state: triage model {model_id}"),
                                  float(figures.get("weight", 0.3))))
    with _lock:
        _accepted[(helpdesk, model_id)] = made
    return made
