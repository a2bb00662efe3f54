package propagate_test

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/propagation"

	"github.com/safepipe/safepipe/gray/propagate/internal/chaintest"
)

// reextract does what otelhttp's handler does with the W3C baggage
// propagator installed: it reads the request's "baggage" header into the
// request's context, over whatever the context held
// (otelhttp: h.propagators.Extract(r.Context(), propagation.HeaderCarrier(r.Header))).
// gray/propagate/otelcompat runs the same contract with otelhttp itself.
func reextract(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := propagation.Baggage{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// TestChainContract: the propagation contract under the OpenTelemetry
// version of go.mod.
func TestChainContract(t *testing.T) {
	chaintest.Run(t, reextract, func(rt http.RoundTripper) http.RoundTripper { return rt })
}
