"""Bolt middleware, one ``process`` method each: what every request passes before a listener."""
