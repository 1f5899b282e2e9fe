"""The ``/migrate`` language: Slack text in, typed commands out. Pure, no I/O."""
