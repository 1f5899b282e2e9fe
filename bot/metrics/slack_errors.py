"""Slack Web API calls that failed, by method and error: counted where every call passes
(``bot.slack_api.replies.web_client``), so no listener or sender counts its own."""

from __future__ import annotations

from prometheus_client import Counter

SLACK_API_ERRORS = Counter(
    "migrate_bot_slack_api_errors",
    "Slack Web API calls that failed, by method and Slack's error (ratelimited, network…).",
    ["method", "error"],
    registry=None,  # every bot runtime's registry includes it (bot.metrics.registry)
)
