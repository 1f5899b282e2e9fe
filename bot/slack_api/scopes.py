"""What the Slack app must be granted: the bot token's scopes as slack-manifest.yml asks
for them (tests/test_slack_manifest.py holds the two together), and Socket Mode's one
scope for the app-level token. ``migrate-bot doctor`` compares a real token with them."""

from __future__ import annotations

BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "usergroups:read",
    "channels:read",
    "groups:read",
    "users:read",
    "im:write",
    "files:write",
    "channels:history",
    "groups:history",
    "im:history",
)
APP_TOKEN_SCOPE = "connections:write"  # Socket Mode: apps.connections.open
