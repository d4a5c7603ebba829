package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Name is the instrumentation scope of the bridge's tracers, and the
// default service.name.
const Name = "crm-bridge"

// Provider is a process's tracer provider. Shutdown it once when the
// process stops.
type Provider struct {
	trace.TracerProvider
	// Endpoint is the OTLP/HTTP URL spans are exported to; empty when
	// nothing is exported.
	Endpoint string
	sdk      *sdktrace.TracerProvider // nil: the no-op provider
}

// Exporting reports whether spans are recorded and exported.
func (p *Provider) Exporting() bool { return p.sdk != nil }

// Shutdown exports the spans still buffered and stops the exporter,
// within ctx. It does nothing for the no-op provider.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	if err := p.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// Setup returns the provider the OTEL_* variables ask for (see the package
// doc), read through getenv; version becomes service.version. The
// exporter's other settings (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT,
// _COMPRESSION, _CERTIFICATE, and their _TRACES_ forms) and the sampler
// (OTEL_TRACES_SAMPLER, default parentbased_always_on) are read by the SDK
// from the process environment. Setup returns an error naming the variable
// for an exporter or protocol it does not support, or an endpoint that is
// not a URL.
func Setup(ctx context.Context, getenv func(string) string, version string) (*Provider, error) {
	endpoint, err := exportEndpoint(getenv)
	if err != nil || endpoint == "" {
		return &Provider{TracerProvider: noop.NewTracerProvider()}, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", endpoint, err)
	}
	name := getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = Name
	}
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", name), attribute.String("service.version", version)))
	if err != nil && res == nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Provider{TracerProvider: sdk, Endpoint: endpoint, sdk: sdk}, nil
}

// exportEndpoint returns the OTLP/HTTP traces URL to export to, or "" when
// nothing is to be exported.
func exportEndpoint(getenv func(string) string) (string, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return "", nil
	}
	exporter, err := tracesExporter(getenv)
	if err != nil || exporter == "none" {
		return "", err
	}
	if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")); v != "" {
		return v, nil
	}
	if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); v != "" {
		return strings.TrimRight(v, "/") + "/v1/traces", nil
	}
	if exporter == "otlp" {
		return "http://localhost:4318/v1/traces", nil
	}
	return "", nil
}

// tracesExporter returns OTEL_TRACES_EXPORTER: otlp, none, or "" when it
// is not set. Unless it is none, it fails, with one error per variable,
// when the exporter or an OTLP protocol is not one the bridge supports.
func tracesExporter(getenv func(string) string) (string, error) {
	var errs []error
	exporter := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))
	switch exporter {
	case "none":
		return exporter, nil
	case "", "otlp":
	default:
		errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not supported (otlp or none)", exporter))
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := strings.TrimSpace(getenv(name)); v != "" && v != "http/protobuf" {
			errs = append(errs, fmt.Errorf("%s: %q is not supported (http/protobuf)", name, v))
		}
	}
	return exporter, errors.Join(errs...)
}
