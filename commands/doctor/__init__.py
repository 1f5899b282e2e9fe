"""``migrate-bot doctor``'s checks of what a real set-up needs beyond Slack: each
target's database and privileges, pg_dump against the server, the backup destination,
the state. Slack's side is checked in ``bot.doctor``."""
