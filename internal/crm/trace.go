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
// http.request.method. They are set only when the span records: under the
// no-op provider (the default) a request costs no attributes.
func (c *Client) startSpan(ctx context.Context, cl call) (context.Context, trace.Span) {
	ctx, span := c.tracer.Start(ctx, spanName(cl.op), clientKind)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("op", cl.op), attribute.String("http.request.method", cl.method))
		if cl.id != "" {
			span.SetAttributes(attribute.String("customer_id", cl.id))
		}
	}
	return ctx, span
}

// clientKind is a request span's kind, made once.
var clientKind = trace.WithSpanKind(trace.SpanKindClient)

// spanName is "crm <op>", without a new string for the client's ops.
func spanName(op string) string {
	switch op {
	case "create":
		return "crm create"
	case "get":
		return "crm get"
	case "update":
		return "crm update"
	case "delete":
		return "crm delete"
	case "list":
		return "crm list"
	case "export":
		return "crm export"
	}
	return "crm " + op
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
