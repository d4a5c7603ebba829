package poller

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gormic/crm-bridge/internal/crmsim"
)

// Each poll is a root span, "poll", in a trace of its own; the events it
// publishes carry its context as traceparent, outside ce-id and
// Nats-Msg-Id: the same event published again with another traceparent
// is still a duplicate to JetStream.
func TestPollSpansAndEventTraceparent(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 5})
	r.sim.Seed(3)
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	cfg := r.cfg
	cfg.InitialEvents = true
	cfg.TracerProvider = tp
	in := r.start(cfg, nil, nil)
	events := r.waitEvents(3)
	in.polls(t, 2)

	polls := map[string]tracetest.SpanStub{} // by span id
	traces := map[string]bool{}
	for _, s := range spans.GetSpans() {
		if s.Name != "poll" {
			continue
		}
		if s.Parent.IsValid() {
			t.Errorf("poll span %s: got parent %s, want a root", s.SpanContext.SpanID(), s.Parent.SpanID())
		}
		if traces[s.SpanContext.TraceID().String()] {
			t.Errorf("two polls share trace %s, want a trace each", s.SpanContext.TraceID())
		}
		traces[s.SpanContext.TraceID().String()] = true
		polls[s.SpanContext.SpanID().String()] = s
	}
	if len(polls) < 2 {
		t.Fatalf("got %d poll spans, want at least 2", len(polls))
	}
	for _, e := range events {
		tp := strings.Split(e.header.Get("traceparent"), "-")
		if len(tp) != 4 {
			t.Fatalf("event of %s: got traceparent %q, want one", e.CustomerID, e.header.Get("traceparent"))
		}
		poll, ok := polls[tp[2]]
		if !ok || poll.SpanContext.TraceID().String() != tp[1] {
			t.Errorf("event of %s: got traceparent %q, want a poll span's", e.CustomerID, e.header.Get("traceparent"))
		}
		if e.header.Get(HeaderID) != e.ID() || e.header.Get(nats.MsgIdHdr) != e.ID() {
			t.Errorf("event of %s: got ce-id %q Nats-Msg-Id %q, want both %q", e.CustomerID, e.header.Get(HeaderID), e.header.Get(nats.MsgIdHdr), e.ID())
		}
	}

	// The first event again, from another trace: a duplicate.
	m := nats.NewMsg("crm.customer.changed." + events[0].CustomerID)
	for k, v := range events[0].header {
		if !strings.HasPrefix(k, "Nats-Expected") { // the first publish's condition
			m.Header[k] = v
		}
	}
	m.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	m.Data = []byte(`{}`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := r.js.PublishMsg(ctx, m)
	if err != nil || !ack.Duplicate {
		t.Errorf("the same event with another traceparent: got %+v, %v, want a duplicate", ack, err)
	}
}
