"""Services: the webhook, the hot path and the API, as thin wiring over the uhnw modules."""
