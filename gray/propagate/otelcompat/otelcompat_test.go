package otelcompat

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/safepipe/safepipe/gray/propagate/internal/chaintest"
)

// TestChainContractWithOtelhttp: what a team wiring its services with the
// OpenTelemetry SDK does — the W3C trace context and baggage propagators
// installed globally, otelhttp around every handler and transport.
func TestChainContractWithOtelhttp(t *testing.T) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	chaintest.Run(t,
		func(h http.Handler) http.Handler { return otelhttp.NewHandler(h, "svc") },
		func(rt http.RoundTripper) http.RoundTripper { return otelhttp.NewTransport(rt) })
}
