// Package tracing is the bridge's OpenTelemetry setup and its W3C trace
// context on NATS messages.
//
// # Provider
//
// Setup builds the one tracer provider of a bridge process from the
// standard OTEL_* variables (read through a getenv function). Spans are
// exported over OTLP/HTTP with protobuf (otlptracehttp) when
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set,
// or OTEL_TRACES_EXPORTER is otlp; otherwise the provider is the no-op
// one: no exporter, no span is recorded, and starting a span costs next to
// nothing. OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it
// off as well.
//
// # Propagation
//
// Propagation does not depend on the provider: the W3C trace context
// (traceparent, tracestate) is always read from commands and written to
// the messages and requests the bridge sends on their behalf. With the
// no-op provider a span started under a command's context carries that
// context unchanged, so the CRM request, the result and the dead letter
// carry the command's own traceparent; with an exporter they carry the
// bridge's span, a child in the same trace.
package tracing
