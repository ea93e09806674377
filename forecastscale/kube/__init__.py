"""Kubernetes API client helpers shared by sources/, actuators/ and service/.

* :mod:`.errors` — one typed error per API status that changes what the caller does (409, 429, 5xx, 403, …);
* :mod:`.calls` — :func:`~.calls.call` runs one client call and turns its failures into those errors;
* :mod:`.retry` — :class:`~.retry.RetryPolicy` and :func:`~.retry.with_retries`, the bounded 409/429 retry.

policy/ and forecasters/ never import this package (a contract in pyproject.toml checks it).
"""
