"""Which text classifier a helpdesk's policy reads tickets with.

A policy without `triage` conditions gets none (nothing is loaded). Otherwise the shipped
model (tierlift.triage, in the wheel) is loaded once per process and shared by every
helpdesk; a helpdesk whose refit an operator accepted (`tierlift triage accept`) reads with
that one instead. Loading never touches the network.
"""

from __future__ import annotations

import threading

from tierlift.engine.policy import Policy
from tierlift.engine.triage import Classifier
from tierlift.triage.model import CachedClassifier, load_shipped

_lock = threading.Lock()
_shipped: CachedClassifier | None = None


def uses_triage(policy: Policy) -> bool:
    rules = [*policy.rules, *(r for t in policy.tiers.values() for r in t.rules)]
    return any(r.when is not None and r.when.triage for r in rules)


def shipped_classifier() -> CachedClassifier:
    """The shipped model, loaded on first use and shared (it is read-only)."""
    global _shipped
    with _lock:
        if _shipped is None:
            _shipped = CachedClassifier(load_shipped())
        return _shipped


def classifier_for(policy: Policy, accepted: CachedClassifier | None = None) -> Classifier | None:
    """The classifier `policy` reads with: none when it asks nothing of one, else the
    helpdesk's accepted refit or the shipped model."""
    if not uses_triage(policy):
        return None
    return accepted or shipped_classifier()
