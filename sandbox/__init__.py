"""The sandbox helpdesk: a local server speaking the Zendesk or Jira REST API subsets tierlift uses."""

from tierlift.sandbox.server import FaultSpec, Sandbox

__all__ = ["FaultSpec", "Sandbox"]
