package tracing

import (
	"context"
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// W3C trace context header names, as the bridge writes them.
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
)

// Propagator is the W3C trace context propagator the bridge uses on NATS
// messages and CRM requests, whatever OTEL_PROPAGATORS says.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Inject writes the span context of ctx to h as traceparent (and
// tracestate when it has one), replacing any spelling of those headers h
// had. It writes nothing, and removes nothing, when ctx holds no valid
// span context.
func Inject(ctx context.Context, h nats.Header) {
	Propagator.Inject(ctx, natsCarrier(h))
}

// Extract returns ctx with the remote span context of h's traceparent and
// tracestate headers (matched without regard to case), or ctx unchanged
// when h has no valid traceparent.
func Extract(ctx context.Context, h nats.Header) context.Context {
	return Propagator.Extract(ctx, natsCarrier(h))
}

// natsCarrier adapts a nats.Header, whose keys are case-sensitive, to the
// propagator: Get matches any case, Set replaces every spelling with the
// lower-case name of the W3C specification.
type natsCarrier nats.Header

var _ propagation.TextMapCarrier = natsCarrier(nil)

func (c natsCarrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	for k, v := range c {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func (c natsCarrier) Set(key, value string) {
	if c == nil {
		return
	}
	for k := range c {
		if strings.EqualFold(k, key) {
			delete(c, k)
		}
	}
	c[strings.ToLower(key)] = []string{value}
}

func (c natsCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
