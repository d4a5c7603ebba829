package tracing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"go.opentelemetry.io/otel/trace"
)

func TestExportEndpoint(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{name: "nothing set: off", env: nil, want: ""},
		{name: "base endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, want: "http://collector:4318/v1/traces"},
		{name: "traces endpoint wins", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b/traces"}, want: "https://b/traces"},
		{name: "otlp without endpoint: the default", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, want: "http://localhost:4318/v1/traces"},
		{name: "none", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318"}, want: ""},
		{name: "sdk disabled", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318"}, want: ""},
		{name: "http/protobuf", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318"}, want: "http://a:4318/v1/traces"},
		{name: "grpc unsupported", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317"}, wantErr: true},
		{name: "zipkin unsupported", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := exportEndpoint(func(k string) string { return tt.env[k] })
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// With no OTEL_* variable no exporter is built, and a span started under
// a command's context carries that context on unchanged.
func TestSetupOffStillPropagates(t *testing.T) {
	p, err := Setup(context.Background(), func(string) string { return "" }, "test")
	if err != nil {
		t.Fatal(err)
	}
	if p.Exporting() || p.Endpoint != "" {
		t.Fatalf("got exporting %v to %q, want no exporter", p.Exporting(), p.Endpoint)
	}
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	in := nats.Header{"Traceparent": {tp}, "tracestate": {"vendor=x"}}
	ctx, span := p.Tracer(Name).Start(Extract(context.Background(), in), "command")
	if span.IsRecording() {
		t.Error("got a recording span, want none without an exporter")
	}
	out := nats.Header{"TRACEPARENT": {"stale"}}
	Inject(ctx, out)
	if got := out.Get(HeaderTraceparent); got != tp || len(out) != 2 || out.Get(HeaderTracestate) != "vendor=x" {
		t.Errorf("got headers %v, want traceparent %s (once) and tracestate vendor=x", out, tp)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, spans reach an OTLP/HTTP receiver
// as protobuf, with service.name from OTEL_SERVICE_NAME, by Shutdown at
// the latest.
func TestSetupExportsToOTLPReceiver(t *testing.T) {
	recv := newReceiver(t)
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": recv.URL, "OTEL_SERVICE_NAME": "bridge-test"}
	p, err := Setup(context.Background(), func(k string) string { return env[k] }, "v9")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Exporting() || p.Endpoint != recv.URL+"/v1/traces" {
		t.Fatalf("got exporting %v to %q, want %s/v1/traces", p.Exporting(), p.Endpoint, recv.URL)
	}
	_, span := p.Tracer(Name).Start(context.Background(), "poll", trace.WithNewRoot())
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	got := recv.spans()
	if len(got) != 1 || got[0].name != "poll" || got[0].service != "bridge-test" || got[0].traceID != span.SpanContext().TraceID().String() {
		t.Errorf("got spans %+v, want the poll span of service bridge-test, trace %s", got, span.SpanContext().TraceID())
	}
}

// receiver is an OTLP/HTTP traces endpoint that decodes what it gets.
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []receivedSpan
}

type receivedSpan struct{ name, service, traceID string }

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var msg coltrace.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &msg)
		}
		if err != nil || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("receiver: %s %s (%s): %v", req.Method, req.URL.Path, req.Header.Get("Content-Type"), err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range msg.ResourceSpans {
			service := ""
			for _, a := range rs.GetResource().GetAttributes() {
				if a.Key == "service.name" {
					service = a.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					r.got = append(r.got, receivedSpan{name: s.Name, service: service, traceID: trace.TraceID(s.TraceId).String()})
				}
			}
		}
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) spans() []receivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedSpan(nil), r.got...)
}
