"""Probing apart from serving: probe worker processes that run the scheduler over a shard of the checks, and
the main process's side that feeds them config and takes in what they found."""
