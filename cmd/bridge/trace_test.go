package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/proctest"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/internal/tracing/otlptest"
)

// The traceparents of two commands, as their publishers' spans wrote them.
const (
	traceApplied  = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	traceRejected = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
)

// Issue 15, part 4, with OTEL_EXPORTER_OTLP_ENDPOINT set: the bridge
// exports its spans to an OTLP/HTTP receiver by the time it stops (the
// command span a child of the command's traceparent, the CRM request's
// span a child of it, polls roots), and from outside the process the CRM
// request, the stored result and dead letter carry the command's trace,
// and an event its poll's.
func TestTracesExportedAndPropagated(t *testing.T) {
	w := newWorld(t)
	recv := otlptest.Start(t)
	front := otlptest.StartFront(t, w.sim.URL())
	env := w.env()
	env["BRIDGE_CRM_URL"] = front.URL
	env["BRIDGE_POLL_INTERVAL"] = "200ms"
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = recv.URL
	env["OTEL_SERVICE_NAME"] = "crm-bridge-test"
	c, err := w.sim.CreateCustomer(crm.CreateParams{FirstName: "Ada", Phone: "5550100"})
	if err != nil {
		t.Fatal(err)
	}
	p := startProgram(t, env, "run")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bridge log (tail):\n%s", proctest.Tail(p.stderr.String(), 4000))
		}
	})
	if got := p.logValue(t, "crm-bridge starting", "traces"); got != recv.URL+"/v1/traces" {
		t.Errorf("start log: got traces %q, want the receiver's URL", got)
	}
	w.waitConsumers()
	p.logValue(t, "poller recorded the existing customers", "component") // the update is a change
	w.publishTraced(w.subj.Update(c.ID), "t-ok", `{"email":"ada@example.com"}`, traceApplied)
	w.publishTraced(w.subj.Update(c.ID), "t-bad", `{"gender":"X"}`, traceRejected)
	eventually.True(t, 30*time.Second, "two results", func() bool { return w.resultCount() == 2 })
	eventually.True(t, 30*time.Second, "the update's event", func() bool {
		return natstest.Count(w.js, streams.Events, w.subj.Changed(c.ID)) > 0
	})
	event := natstest.Messages(t, w.js, streams.Events, w.subj.Changed(c.ID))[0].Headers()
	if err := p.stop(t); err != nil {
		t.Fatalf("run: %v", err)
	}

	spans := map[string]otlptest.Span{} // by span id
	var ok, bad, request otlptest.Span
	for _, s := range recv.Spans() {
		spans[s.SpanID] = s
		switch {
		case s.Attributes["command_id"] == "t-ok":
			ok = s
		case s.Attributes["command_id"] == "t-bad":
			bad = s
		case s.Name == "crm update":
			request = s
		}
		if s.Service != "crm-bridge-test" {
			t.Errorf("span %s: got service.name %q, want crm-bridge-test", s.Name, s.Service)
		}
	}
	wantChild(t, "command t-ok", ok, traceApplied)
	wantChild(t, "command t-bad", bad, traceRejected)
	if ok.Name != "command update" || ok.Attributes["status"] != commands.StatusApplied || ok.Attributes["customer_id"] != c.ID {
		t.Errorf("span of t-ok: got %+v, want command update, applied, customer %s", ok, c.ID)
	}
	if bad.Attributes["status"] != commands.StatusRejected || !bad.StatusError {
		t.Errorf("span of t-bad: got %+v, want rejected, an error", bad)
	}
	if request.TraceID != ok.TraceID || request.ParentID != ok.SpanID {
		t.Errorf("CRM update span: got %+v, want a child of %s", request, ok.SpanID)
	}
	if got, want := front.Traceparent(http.MethodPatch), "00-"+request.TraceID+"-"+request.SpanID+"-01"; got != want {
		t.Errorf("CRM update request: got traceparent %q, want %q", got, want)
	}
	tp := w.storedTraceparents()
	if got, want := tp["result t-ok"], "00-"+ok.TraceID+"-"+ok.SpanID+"-01"; got != want {
		t.Errorf("result of t-ok: got traceparent %q, want %q", got, want)
	}
	if got, want := tp["dlq t-bad"], "00-"+bad.TraceID+"-"+bad.SpanID+"-01"; got != want {
		t.Errorf("dead letter of t-bad: got traceparent %q, want %q", got, want)
	}
	parts := strings.Split(event.Get("traceparent"), "-")
	if len(parts) != 4 || spans[parts[2]].Name != "poll" || spans[parts[2]].TraceID != parts[1] || spans[parts[2]].ParentID != "" {
		t.Errorf("event: got traceparent %q, want a root poll span's", event.Get("traceparent"))
	}
}

// With no OTEL_* variable no exporter is built, and a command's
// traceparent reaches its CRM request, its result and its dead letter
// unchanged; `bridge dlq replay` carries the dead letter's on.
func TestTraceparentPropagatesWithoutOTEL(t *testing.T) {
	w := newWorld(t)
	front := otlptest.StartFront(t, w.sim.URL())
	env := w.env()
	env["BRIDGE_CRM_URL"] = front.URL
	c, err := w.sim.CreateCustomer(crm.CreateParams{FirstName: "Ada", Phone: "5550100"})
	if err != nil {
		t.Fatal(err)
	}
	p := startProgram(t, env, "run")
	if got := p.logValue(t, "crm-bridge starting", "traces"); got != "off (trace context propagated)" {
		t.Errorf("start log: got traces %q, want off", got)
	}
	w.waitConsumers()
	w.publishTraced(w.subj.Update(c.ID), "t-ok", `{"email":"ada@example.com"}`, traceApplied)
	w.publishTraced(w.subj.Update(c.ID), "t-bad", `{"gender":"X"}`, traceRejected)
	eventually.True(t, 30*time.Second, "two results", func() bool { return w.resultCount() == 2 })
	if got := front.Traceparent(http.MethodPatch); got != traceApplied {
		t.Errorf("CRM update request: got traceparent %q, want %q", got, traceApplied)
	}
	if _, _, err := cli(t, env, "", "dlq", "replay", "--all"); err != nil {
		t.Fatalf("dlq replay: %v", err)
	}
	eventually.True(t, 30*time.Second, "the replay's result", func() bool { return w.resultCount() == 3 })
	tp := w.storedTraceparents()
	for key, want := range map[string]string{"result t-ok": traceApplied, "result t-bad": traceRejected,
		"result t-bad-replay-1": traceRejected, "dlq t-bad-replay-1": traceRejected} {
		if tp[key] != want {
			t.Errorf("%s: got traceparent %q, want %q", key, tp[key], want)
		}
	}
}

// publishTraced publishes a command with a traceparent header.
func (w *world) publishTraced(subject, id, body, traceparent string) {
	w.t.Helper()
	m := nats.NewMsg(subject)
	m.Header.Set(nats.MsgIdHdr, id)
	m.Header.Set("traceparent", traceparent)
	m.Data = []byte(body)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.js.PublishMsg(ctx, m); err != nil {
		w.t.Fatalf("publish %s: %v", subject, err)
	}
}

// storedTraceparents returns the traceparent of each stored result
// ("result <command id>") and dead letter ("dlq <command id>").
func (w *world) storedTraceparents() map[string]string {
	w.t.Helper()
	out := map[string]string{}
	for _, m := range natstest.Messages(w.t, w.js, streams.Events, w.subj.Result()) {
		out["result "+m.Headers().Get(commands.HeaderCommandID)] = m.Headers().Get("traceparent")
	}
	for _, m := range natstest.Messages(w.t, w.js, streams.DLQ, "crm.customer.dlq.>") {
		out["dlq "+m.Headers().Get(commands.HeaderCommandID)] = m.Headers().Get("traceparent")
	}
	return out
}

// wantChild checks that span s exists and is the child of traceparent.
func wantChild(t *testing.T, name string, s otlptest.Span, traceparent string) {
	t.Helper()
	parts := strings.Split(traceparent, "-")
	if s.SpanID == "" || s.TraceID != parts[1] || s.ParentID != parts[2] {
		t.Errorf("%s: got span %+v, want a child of %s", name, s, traceparent)
	}
}

// An OTEL_* setting the bridge cannot honour stops it at start, naming the
// variable, before it connects to anything.
func TestUnsupportedTraceExporterStopsAtStart(t *testing.T) {
	env := map[string]string{
		"BRIDGE_NATS_URL":             "nats://127.0.0.1:1",
		"BRIDGE_CRM_URL":              "http://127.0.0.1:1",
		"BRIDGE_CRM_API_KEY":          "k",
		"BRIDGE_CRM_ORG_ID":           "o",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
	}
	_, _, err := cli(t, env, "", "run")
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL") {
		t.Fatalf("got %v, want an error naming OTEL_EXPORTER_OTLP_PROTOCOL", err)
	}
}
