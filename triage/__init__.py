"""tierlift's reading sense: a local text classifier for the categories the seeds escalate on.

The room (ARCHITECTURE.md): `features` turns text into weighted character and word n-grams,
`model` scores them with a linear model shipped in the wheel (`shipped/`), explains which
words weighed most, and caches by content; `fit` refits one on labelled text (scikit-learn,
imported only there); `history` takes labels from a helpdesk's own record. It imports only
the engine (the `Verdict` it returns); the service loads it and hands it to the engine.
Nothing here reads the network: the model is data in the package.
"""

from tierlift.triage.model import LinearModel, load_shipped

__all__ = ["LinearModel", "load_shipped"]
