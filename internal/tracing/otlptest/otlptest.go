// Package otlptest is an OTLP/HTTP traces receiver for tests: a real HTTP
// server that decodes the protobuf export requests it is sent, as a
// collector would.
package otlptest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"go.opentelemetry.io/otel/trace"
)

// Span is one span as the receiver got it.
type Span struct {
	Name, Service             string
	TraceID, SpanID, ParentID string // hex; ParentID empty for a root
	Attributes                map[string]string
	StatusError               bool
}

// Receiver accepts POST /v1/traces with Content-Type
// application/x-protobuf; anything else fails the test. It is closed when
// the test ends.
type Receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []Span
}

// Start starts a Receiver on a free port.
func Start(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var msg coltrace.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &msg)
		}
		if err != nil || req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("otlptest: %s %s (%s): %v", req.Method, req.URL.Path, req.Header.Get("Content-Type"), err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		r.add(&msg)
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *Receiver) add(msg *coltrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range msg.ResourceSpans {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				sp := Span{Name: s.Name, Service: service, TraceID: trace.TraceID(s.TraceId).String(),
					SpanID: trace.SpanID(s.SpanId).String(), Attributes: map[string]string{},
					StatusError: s.GetStatus().GetCode() == 2} // STATUS_CODE_ERROR
				if len(s.ParentSpanId) == 8 {
					sp.ParentID = trace.SpanID(s.ParentSpanId).String()
				}
				for _, a := range s.Attributes {
					sp.Attributes[a.Key] = valueString(a.GetValue().GetStringValue(), a.GetValue().GetIntValue())
				}
				r.got = append(r.got, sp)
			}
		}
	}
}

func valueString(s string, i int64) string {
	if s != "" {
		return s
	}
	if i != 0 {
		return strconv.FormatInt(i, 10)
	}
	return ""
}

// Spans returns the spans received so far, in the order they came.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.got...)
}
