"""Jira Cloud / Service Management: mapping of issue JSON, and the connector."""

from tierlift.connectors.jira.connector import JiraConnector, JiraSettings

__all__ = ["JiraConnector", "JiraSettings"]
