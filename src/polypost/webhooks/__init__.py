"""Outbound webhooks: endpoints, fan-out from the outbox, signed delivery with retries."""
