"""The bot's state: the words of the audit log (event kinds, request states), opening it,
and the outbox of notifications waiting for delivery."""
