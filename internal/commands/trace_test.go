package commands

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/internal/tracing/otlptest"
)

// Two commands' traceparents, as another service's spans would write them.
const (
	tpApplied  = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	tpRejected = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
)

// A command's span is the child of its traceparent, with its id, op,
// customer and status; the CRM request, the result and the dead letter
// carry that span's context, tracestate included.
func TestCommandSpanParentsItsRequestResultAndDeadLetter(t *testing.T) {
	r := newRig(t, crmsim.Options{RandSeed: 1})
	c, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "Ada", Phone: "5550100"})
	if err != nil {
		t.Fatal(err)
	}
	front := otlptest.StartFront(t, r.sim.URL())
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	cfg := r.cfg
	cfg.TracerProvider = tp
	r.startProcessorAt(cfg, front.URL)

	r.publishTraced(r.subj.Update(c.ID), "traced-ok", []byte(`{"email":"ada@example.com"}`), tpApplied, "")
	r.publishTraced(r.subj.Create(), "traced-bad", []byte(`{"firstName":""}`), tpRejected, "vendor=x")
	r.waitResults(2, 30*time.Second)

	ok := commandSpan(t, spans, "traced-ok")
	wantParent(t, ok, tpApplied)
	if ok.Name != "command update" || ok.SpanKind != trace.SpanKindConsumer || ok.Status.Code == codes.Error {
		t.Errorf("span of traced-ok: got %q kind %v status %v, want \"command update\", consumer, not an error", ok.Name, ok.SpanKind, ok.Status)
	}
	wantAttrs(t, ok, map[string]string{"op": "update", "customer_id": c.ID, "status": StatusApplied})
	bad := commandSpan(t, spans, "traced-bad")
	wantParent(t, bad, tpRejected)
	wantAttrs(t, bad, map[string]string{"op": "create", "status": StatusRejected})
	if bad.Status.Code != codes.Error || len(bad.Events) == 0 || bad.Events[0].Name != "exception" {
		t.Errorf("span of traced-bad: got status %v, events %v, want an error recorded", bad.Status, bad.Events)
	}

	if got, want := front.Traceparent(http.MethodPatch), traceparentOf(ok.SpanContext); got != want {
		t.Errorf("CRM update request: got traceparent %q, want %q", got, want)
	}
	results := traceparentsOfResults(r)
	if got, want := results["traced-ok"], traceparentOf(ok.SpanContext); got != want {
		t.Errorf("result of traced-ok: got traceparent %q, want %q", got, want)
	}
	if got, want := results["traced-bad"], traceparentOf(bad.SpanContext); got != want {
		t.Errorf("result of traced-bad: got traceparent %q, want %q", got, want)
	}
	letters := r.deadLetters() // checked against dlq-headers.schema.json
	if len(letters) != 1 {
		t.Fatalf("got %d dead letters, want 1", len(letters))
	}
	h := letters[0].Headers()
	if got, want := h.Get("traceparent"), traceparentOf(bad.SpanContext); got != want {
		t.Errorf("dead letter: got traceparent %q, want %q", got, want)
	}
	if got := h.Get("tracestate"); got != "vendor=x" {
		t.Errorf("dead letter: got tracestate %q, want vendor=x", got)
	}
}

// Without a tracer provider nothing is recorded, yet the command's own
// traceparent reaches its CRM request and its result unchanged; an invalid
// one is not carried to the dead letter.
func TestTraceparentPropagatesWithoutProvider(t *testing.T) {
	r := newRig(t, crmsim.Options{RandSeed: 1})
	c, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "Ada", Phone: "5550100"})
	if err != nil {
		t.Fatal(err)
	}
	front := otlptest.StartFront(t, r.sim.URL())
	r.startProcessorAt(r.cfg, front.URL)
	r.publishTraced(r.subj.Update(c.ID), "traced-ok", []byte(`{"email":"ada@example.com"}`), tpApplied, "")
	r.publishTraced(r.subj.Create(), "garbled", []byte(`{}`), "not-a-traceparent", "vendor=x")
	r.waitResults(2, 30*time.Second)
	letters := r.deadLetters()
	if len(letters) != 1 {
		t.Fatalf("got %d dead letters, want 1", len(letters))
	}
	if h := letters[0].Headers(); h.Get("traceparent") != "" || h.Get("tracestate") != "" {
		t.Errorf("dead letter of a command with an invalid traceparent: got headers %v, want no trace headers", h)
	}
	if got := front.Traceparent(http.MethodPatch); got != tpApplied {
		t.Errorf("CRM update request: got traceparent %q, want %q", got, tpApplied)
	}
	if got := traceparentsOfResults(r)["traced-ok"]; got != tpApplied {
		t.Errorf("result: got traceparent %q, want %q", got, tpApplied)
	}
}

// publishTraced publishes a command with a traceparent (in the spelling
// Traceparent, which the bridge must read whatever its case) and, when
// not empty, a tracestate.
func (r *rig) publishTraced(subject, id string, body []byte, traceparent, tracestate string) {
	r.t.Helper()
	m := nats.NewMsg(subject)
	m.Data = body
	m.Header.Set(nats.MsgIdHdr, id)
	m.Header["Traceparent"] = []string{traceparent}
	if tracestate != "" {
		m.Header.Set("tracestate", tracestate)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.js.PublishMsg(ctx, m); err != nil {
		r.t.Fatalf("publish %s: %v", subject, err)
	}
}

// traceparentsOfResults returns the traceparent header of each stored
// result, by command id.
func traceparentsOfResults(r *rig) map[string]string {
	r.t.Helper()
	out := map[string]string{}
	for _, m := range natstest.Messages(r.t, r.js, streams.Events, r.subj.Result()) {
		out[m.Headers().Get(HeaderCommandID)] = m.Headers().Get("traceparent")
	}
	return out
}

// commandSpan returns the ended span of the command with id.
func commandSpan(t *testing.T, spans *tracetest.InMemoryExporter, id string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans.GetSpans() {
		for _, a := range s.Attributes {
			if a.Key == attrCommandID && a.Value.AsString() == id {
				return s
			}
		}
	}
	t.Fatalf("no span with command_id %s among %d", id, len(spans.GetSpans()))
	return tracetest.SpanStub{}
}

// wantParent checks that s is the child of the remote span traceparent.
func wantParent(t *testing.T, s tracetest.SpanStub, traceparent string) {
	t.Helper()
	if got := traceparentOf(s.Parent); got != traceparent || !s.Parent.IsRemote() {
		t.Errorf("span %s: got parent %q (remote %v), want remote %q", s.Name, got, s.Parent.IsRemote(), traceparent)
	}
}

func wantAttrs(t *testing.T, s tracetest.SpanStub, want map[string]string) {
	t.Helper()
	got := map[attribute.Key]string{}
	for _, a := range s.Attributes {
		got[a.Key] = a.Value.String()
	}
	for k, v := range want {
		if got[attribute.Key(k)] != v {
			t.Errorf("span %s: got %s=%q, want %q", s.Name, k, got[attribute.Key(k)], v)
		}
	}
}

// traceparentOf writes sc as a W3C traceparent.
func traceparentOf(sc trace.SpanContext) string {
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}
