package crm_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/crmsim/simtest"
	"github.com/gormic/crm-bridge/internal/crmspec"
)

// Each request is a client span, "crm <op>", the child of the caller's
// span, and carries that span's context as traceparent; the requests with
// the extra header still validate against the OpenAPI document (strict)
// and the simulator accepts them.
func TestRequestSpanAndTraceparent(t *testing.T) {
	sim := simtest.Start(t, crmsim.Options{APIKey: "k", OrgID: "o"})
	v, err := crmspec.NewValidator(crmspec.Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := &sentHeaders{}
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	c, err := crm.New(crm.Config{BaseURL: sim.URL(), APIKey: "k", OrgID: "o", TracerProvider: tp,
		Transport: seen.wrap(&crmspec.Transport{Base: crm.NewTransport(crm.Config{}), Validator: v})})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx, parent := tp.Tracer("test").Start(ctx, "parent")
	if _, err := c.Create(ctx, crm.CreateParams{FirstName: "Ada", Phone: "5550100"}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := c.Get(ctx, "cus_missing"); !errors.Is(err, crm.ErrNotFound) {
		t.Fatalf("get: got %v, want ErrNotFound", err)
	}
	parent.End()

	got := spans.GetSpans()
	if len(got) != 3 {
		t.Fatalf("got %d spans, want create, get and parent", len(got))
	}
	create, get := got[0], got[1]
	for i, s := range []tracetest.SpanStub{create, get} {
		if s.Parent.SpanID() != parent.SpanContext().SpanID() || s.SpanKind != trace.SpanKindClient {
			t.Errorf("span %s: got parent %s kind %v, want the caller's span %s, client", s.Name, s.Parent.SpanID(), s.SpanKind, parent.SpanContext().SpanID())
		}
		want := "00-" + s.SpanContext.TraceID().String() + "-" + s.SpanContext.SpanID().String() + "-01"
		if h := seen.traceparent(i); h != want {
			t.Errorf("request %d: got traceparent %q, want %q (span %s)", i, h, want, s.Name)
		}
	}
	if create.Name != "crm create" || create.Status.Code == codes.Error {
		t.Errorf("create span: got %q status %v, want \"crm create\", no error", create.Name, create.Status)
	}
	if get.Name != "crm get" || get.Status.Code != codes.Error {
		t.Errorf("get span: got %q status %v, want \"crm get\" with an error", get.Name, get.Status)
	}
	attrs := map[attribute.Key]string{}
	for _, kv := range get.Attributes {
		attrs[kv.Key] = kv.Value.String()
	}
	if attrs["op"] != "get" || attrs["http.request.method"] != "GET" || attrs["customer_id"] == "" {
		t.Errorf("get span: got attributes %v, want op, http.request.method and customer_id", attrs)
	}
}

// sentHeaders records the traceparent of each request a client sends.
type sentHeaders struct {
	mu  sync.Mutex
	got []string
}

func (s *sentHeaders) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		s.mu.Lock()
		s.got = append(s.got, r.Header.Get("traceparent"))
		s.mu.Unlock()
		return next.RoundTrip(r)
	})
}

func (s *sentHeaders) traceparent(i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.got) {
		return ""
	}
	return s.got[i]
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
