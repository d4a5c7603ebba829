package commands

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/internal/tracing"
)

// Span attributes of a command's span.
const (
	attrCommandID  = "command_id"
	attrOp         = "op"
	attrCustomerID = "customer_id"
	attrStatus     = "status"
	attrAttempts   = "attempts"
)

// startSpan starts the span of command c, named "command <op>", a child
// of the remote span context in the command's traceparent and tracestate
// headers (a root when it has none). The CRM calls, the result and the
// dead letter made under the returned context belong to it. Its
// attributes are set only when it records: under the no-op provider (the
// default) a command costs no attributes.
func (p *Processor) startSpan(ctx context.Context, c command) (context.Context, trace.Span) {
	ctx = tracing.Extract(ctx, c.msg.Headers())
	ctx, span := p.tracer.Start(ctx, spanName(c.op), consumerKind)
	if span.IsRecording() {
		span.SetAttributes(attribute.String(attrCommandID, c.id), attribute.String(attrOp, c.op))
		if c.customerID != "" {
			span.SetAttributes(attribute.String(attrCustomerID, c.customerID))
		}
	}
	return ctx, span
}

// consumerKind is a command span's kind, made once.
var consumerKind = trace.WithSpanKind(trace.SpanKindConsumer)

// spanName is "command <op>", without a new string for the three ops.
func spanName(op string) string {
	switch op {
	case streams.OpCreate:
		return "command " + streams.OpCreate
	case streams.OpUpdate:
		return "command " + streams.OpUpdate
	case streams.OpDelete:
		return "command " + streams.OpDelete
	}
	return "command " + op
}

// endSpan ends a command's span with its outcome: status, attempts and
// customer id, and an error status for a command rejected or failed (with
// its result error recorded), or handed back unfinished.
func endSpan(span trace.Span, out outcome, unfinished error) {
	defer span.End()
	if !span.IsRecording() {
		return
	}
	switch {
	case unfinished != nil:
		span.RecordError(unfinished)
		span.SetStatus(codes.Error, "handed back: "+unfinished.Error())
		return
	case out.canceled:
		span.SetStatus(codes.Error, "handed back: the processor is stopping or lost the partition")
		return
	}
	span.SetAttributes(attribute.String(attrStatus, out.status), attribute.Int(attrAttempts, out.attempts))
	if out.customerID != "" {
		span.SetAttributes(attribute.String(attrCustomerID, out.customerID))
	}
	if out.err != nil {
		span.RecordError(errors.New(out.err.Code+": "+out.err.Message), trace.WithAttributes(attribute.String("error.code", out.err.Code)))
		span.SetStatus(codes.Error, out.err.Code)
	}
}
