package poller

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// startPoll starts the span of one poll, "poll": the root of a trace of
// its own (never a child of whatever ctx holds), with the attributes
// poll.kind (changes or reconcile) and poll.number. The CRM export and the
// events published under the returned context belong to it.
func (p *Poller) startPoll(ctx context.Context, ps *pass) (context.Context, trace.Span) {
	return p.tracer.Start(ctx, "poll", trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.String("poll.kind", ps.kind()), attribute.Int("poll.number", int(ps.no))))
}

// endPoll ends a poll's span with what the pass did (pages, records,
// events) and an error status when it failed.
func endPoll(span trace.Span, ps *pass, err error) {
	defer span.End()
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.Int("poll.pages", ps.pages), attribute.Int("poll.records", ps.records), attribute.Int("poll.events", ps.events))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
}
