package tracing

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	"github.com/gormic/crm-bridge/internal/tracing/otlptest"
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
	recv := otlptest.Start(t)
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
	got := recv.Spans()
	if len(got) != 1 || got[0].Name != "poll" || got[0].Service != "bridge-test" || got[0].TraceID != span.SpanContext().TraceID().String() {
		t.Errorf("got spans %+v, want the poll span of service bridge-test, trace %s", got, span.SpanContext().TraceID())
	}
}
