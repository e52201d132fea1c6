"""Service wiring (hand-written).

The ASGI app with one router module per surface, the hot-path service and the alert feed, over the exported modules."""
