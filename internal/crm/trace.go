package crm

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// startSpan starts the client span of one request, "crm <op>", with the
// attributes op, customer_id (when the call names one) and
// http.request.method.
func (c *Client) startSpan(ctx context.Context, cl call) (context.Context, trace.Span) {
	attrs := []attribute.KeyValue{attribute.String("op", cl.op), attribute.String("http.request.method", cl.method)}
	if cl.id != "" {
		attrs = append(attrs, attribute.String("customer_id", cl.id))
	}
	return c.tracer.Start(ctx, "crm "+cl.op, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// endSpan ends a request's span with its HTTP status, the CRM's error
// code, and an error status when the request failed.
func endSpan(span trace.Span, ans answer, err error) {
	defer span.End()
	if !span.IsRecording() {
		return
	}
	if err == nil {
		span.SetAttributes(attribute.Int("http.response.status_code", ans.status))
		return
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Status != 0 {
			span.SetAttributes(attribute.Int("http.response.status_code", e.Status))
		}
		if e.Code != "" {
			span.SetAttributes(attribute.String("error.code", e.Code))
		}
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}
