package tracing

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Options configure a member process's OpenTelemetry SDK.
type Options struct {
	// Endpoint is the OTLP/gRPC collector, host:port (Jaeger's is
	// 127.0.0.1:4317). Empty turns tracing off.
	Endpoint string
	// Insecure sends without TLS.
	Insecure bool
	// SamplingRate is the fraction of new traces recorded, from 0 to 1.
	// A trace continued from a client's sampled context is recorded
	// whatever the rate (parent-based sampling).
	SamplingRate float64
	// ServiceName is the service the spans belong to: the member's name.
	ServiceName string
	// InstanceID, if not empty, is recorded as service.instance.id (the
	// member ID).
	InstanceID string
}

// Validate names the first invalid field.
func (o Options) Validate() error {
	if o.SamplingRate < 0 || o.SamplingRate > 1 {
		return fmt.Errorf("tracing: sampling rate %v must be between 0 and 1", o.SamplingRate)
	}
	return nil
}

// Setup returns a tracer provider exporting OTLP/gRPC to o.Endpoint in
// batches, and the function that flushes and stops it (call it once the
// member has stopped). With an empty endpoint it returns a nil provider
// (tracing off) and a no-op shutdown.
//
// Connecting is lazy: a collector that is down loses spans, never blocks
// the member.
func Setup(ctx context.Context, o Options) (*sdktrace.TracerProvider, func(context.Context) error, error) {
	if err := o.Validate(); err != nil {
		return nil, nil, err
	}
	if o.Endpoint == "" {
		return nil, func(context.Context) error { return nil }, nil
	}
	if o.ServiceName == "" {
		return nil, nil, errors.New("tracing: service name is required")
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(o.Endpoint)}
	if o.Insecure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", o.Endpoint, err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", o.ServiceName)}
	if o.InstanceID != "" {
		attrs = append(attrs, attribute.String("service.instance.id", o.InstanceID))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SamplingRate))),
	)
	return tp, tp.Shutdown, nil
}
