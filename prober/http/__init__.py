"""HTTP plumbing below its users: the probe client, phase timing, bounded body reading and TLS contexts.

The HTTP check (`probers/http.py`) and journeys' `j.http` (`journey/http_client.py`) both import from here;
nothing here imports from `probers/` or `journey/`.
"""
