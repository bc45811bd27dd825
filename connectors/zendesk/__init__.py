"""Zendesk: mapping of the Support API's JSON, and the connector."""

from tierlift.connectors.zendesk.connector import ZendeskConnector, ZendeskSettings

__all__ = ["ZendeskConnector", "ZendeskSettings"]
