"""API pulls: Xero and QuickBooks Online read straight from their APIs, read-only,
and the requests (webhooks, Pull now) that trigger them.

``client`` (HTTP: GETs and token POSTs only, rate limited, Retry-After and backoff),
``connections`` (the ``api_connection`` row: state, sealed tokens, cursor),
``tokens`` (client credentials, refresh with rotation, authorisation codes),
``connect`` (the admin's Connect flow), ``pull`` (one pull: pages kept as originals
and imported as batches), ``xero`` and ``quickbooks`` (what each service is asked), ``requests`` (pulls asked
for by a webhook or an admin), ``webhooks`` and ``hook_config`` (signed calls).
The entry point that takes the job locks is ``sync.workers.api.pull_source``; the
settings are ``sync.api_sources``.
"""
