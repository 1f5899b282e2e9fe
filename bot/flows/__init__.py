"""What a request and a schedule go through in Slack: the flows that call ``commands``
and keep the request message, its thread and the ops channel up to date."""
