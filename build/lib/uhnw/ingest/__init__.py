"""Ingestion adapters: news webhook and poller mapping, feeds to the event bus."""
