"""``migrate-bot doctor``'s Slack half: the tokens, the app's scopes, Socket Mode, the
ops channel and the approvers, asked of the real Web API (``commands.doctor`` checks
the rest)."""
