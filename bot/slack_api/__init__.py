"""The Slack Web API side: replies to the person who asked, user-group lookups, and the
notifier that delivers the outbox within Slack's rate limits."""
