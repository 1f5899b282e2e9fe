"""The forecast on the approval card: each statement's locks and work, its time from the live
tables' sizes and this server's rates, and, after the run, how right it was."""
