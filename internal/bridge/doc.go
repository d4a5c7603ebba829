// Package bridge assembles a running bridge process from its parts: the
// NATS connection (or an embedded JetStream server), the streams, the HTTP
// endpoints for health and metrics, and the workers that move commands and
// events. cmd/bridge parses configuration and hands it here.
//
// Lifecycle: New, then Start, which returns once the process listens (the
// streams are made in the background, and /readyz says when); Stop shuts it
// down in reverse order within the context's deadline.
package bridge
