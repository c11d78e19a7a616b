"""The service kit: what every entrasync service does the same way, written once.

- `api`: request-reply from the catalog — `ApiRouter` (handlers per endpoint, one `answer()`),
  `ApiClient` (typed calls), `ApiFailure` (refusals with a catalog error code);
- `consumers`: typed JetStream consumers — parse into the catalog's model, park what cannot be
  read on the dead-letter subject, map outcomes to ack / nak / park in one place;
- `service`: `run_service()` — settings errors, logging, the event loop;
- `micro`: the NATS micro discovery protocol for every service.
- `metrics`: the Prometheus metrics every service shares (API requests, consumer outcomes and
  lag, dead letters, publishes per flow), served at `/metrics` on the health port.
"""
