// Package chaintest is the propagation contract of package propagate, run
// against the OpenTelemetry Go version of the module that runs it: the
// main module's (go.mod) with a layer that does what otelhttp does, and
// gray/propagate/otelcompat's (the newest otel and otelhttp the module
// proxy serves) with otelhttp itself. One suite, so that both versions
// are held to the same claims.
package chaintest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/baggage"

	"github.com/safepipe/safepipe/gray"
	"github.com/safepipe/safepipe/gray/propagate"
)

// Layer is a tracing middleware a team wraps its services in (otelhttp's
// handler reads the "baggage" header into the request's context).
type Layer func(http.Handler) http.Handler

// Client wraps a service's outgoing transport (otelhttp's transport
// writes the context's baggage into the "baggage" header).
type Client func(http.RoundTripper) http.RoundTripper

// releases: android for Android users, atlantis for Atlantis.
const releases = `releases:
  - name: android
    priority: 10
    match: {attribute: {name: device, in: [Android]}}
    services: {order: order-v1.1, email: email-v2.1, sms: sms-v2}
  - name: atlantis
    priority: 20
    match: {attribute: {name: city, in: [Atlantis]}}
    services: {email: email-v2.2, sms: sms-v3}
`

// Run runs the contract: a chain order (the edge) → email → sms, each
// service wrapped in layer (inside the edge's middleware, and outside it),
// each call through client. Every hop must serve the edge's release: a
// forged decision never reaches past the edge, and caller baggage near or
// over the W3C limits never splits the chain.
func Run(t *testing.T, layer Layer, client Client) {
	_, rs, err := gray.LoadFile(strings.NewReader(releases), "releases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	router, err := gray.CompileReleases(rs)
	if err != nil {
		t.Fatal(err)
	}
	for _, inside := range []bool{true, false} {
		t.Run(map[bool]string{true: "layer inside the edge", false: "layer outside the edge"}[inside], func(t *testing.T) {
			var dropped []int
			edge, err := propagate.NewEdge(propagate.EdgeOptions{Router: router, Labels: []string{"device", "city"},
				Dropped: func(n int) { dropped = append(dropped, n) }})
			if err != nil {
				t.Fatal(err)
			}
			httpc := &http.Client{Transport: client(propagate.Transport(nil))}
			var smsSaw, emailSaw string
			sms := httptest.NewServer(layer(propagate.Follow(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				smsSaw = r.Header.Get("baggage")
				io.WriteString(w, router.Version(propagate.Release(r.Context()), "sms"))
			}))))
			defer sms.Close()
			// next calls url with the request's context: what the service
			// behind url served.
			next := func(r *http.Request, url string) (string, error) {
				call, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, url, nil)
				resp, err := httpc.Do(call)
				if err != nil {
					return "", err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				return string(b), err
			}
			email := httptest.NewServer(layer(propagate.Follow(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				emailSaw = r.Header.Get("baggage")
				rest, err := next(r, sms.URL)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				io.WriteString(w, router.Version(propagate.Release(r.Context()), "email")+" "+rest)
			}))))
			defer email.Close()
			app := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				release := propagate.Release(r.Context())
				rest, err := next(r, email.URL)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				json.NewEncoder(w).Encode(map[string]string{"release": release, "chain": router.Version(release, "order") + " " + rest})
			}))
			var order *httptest.Server
			if inside {
				order = httptest.NewServer(edge.Handler(layer(app)))
			} else {
				order = httptest.NewServer(layer(edge.Handler(app)))
			}
			defer order.Close()

			pad := func(n int, size int) string {
				var m []string
				for i := range n {
					m = append(m, fmt.Sprintf("k%03d=%s", i, strings.Repeat("v", size)))
				}
				return strings.Join(m, ",")
			}
			for _, c := range []struct {
				name, baggage, release string
				dropped                int
			}{
				{"Android: android at every hop", "user=u-1,device=Android", "android", 0},
				{"a forged decision on an iOS request", "user=u-1,device=iOS,safepipe-release=android", "", 0},
				{"a forged decision on an Atlantis request", "safepipe-release=android,city=Atlantis", "atlantis", 0},
				{"Android with 60 more members", "device=Android," + pad(60, 4), "android", 0},
				{"Android with 62 more members (64 with the decision)", "device=Android," + pad(62, 4), "android", 0},
				{"Android with 63 more members", "device=Android," + pad(63, 4), "android", 1},
				// Over 64 members, OpenTelemetry v1.47 drops members of
				// the caller's header at random as it parses it at the
				// edge (the label among them, perhaps), v1.39 keeps them
				// (up to 180): the edge's decision differs by version, and
				// every hop must follow it either way.
				{"Android with 64 more members", "device=Android," + pad(64, 4), "", -1},
				{"Android with 179 more members", "device=Android," + pad(179, 4), "", -1},
				{"Android with 8.1 KB of baggage", "device=Android," + pad(8, 1020), "", -1},
				{"Android with one member over 4 KB", "device=Android," + pad(1, 4100), "", -1},
				// v1.39 drops a header with a malformed member, v1.47
				// skips the member: the labels differ by version.
				{"Android in malformed baggage", "device=Android,,,=;=x", "", -1},
			} {
				t.Run(c.name, func(t *testing.T) {
					dropped = nil
					smsSaw, emailSaw = "", ""
					req, _ := http.NewRequest(http.MethodGet, order.URL, nil)
					req.Header.Set("baggage", c.baggage)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					var out map[string]string
					if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
						t.Fatal(err)
					}
					release := out["release"]
					if c.dropped >= 0 && release != c.release {
						t.Errorf("the edge decided %q, want %q", release, c.release)
					}
					want := router.Version(release, "order") + " " + router.Version(release, "email") + " " + router.Version(release, "sms")
					if out["chain"] != want {
						t.Errorf("the chain served %q; the edge's release %q is %q", out["chain"], release, want)
					}
					for hop, h := range map[string]string{"email": emailSaw, "sms": smsSaw} {
						if strings.Contains(h, "safepipe-release") != (release != "") {
							t.Errorf("%s received baggage %.200q for release %q", hop, h, release)
						}
						if n := strings.Count(h, ",") + 1; h != "" && n > propagate.MaxMembers {
							t.Errorf("%s received %d members", hop, n)
						}
						if len(h) > propagate.MaxBaggageBytes {
							t.Errorf("%s received %d bytes of baggage", hop, len(h))
						}
						if h != "" {
							if _, err := baggage.Parse(h); err != nil {
								t.Errorf("%s received baggage its OpenTelemetry does not accept whole: %v", hop, err)
							}
						}
					}
					if c.dropped > 0 && (len(dropped) != 1 || dropped[0] != c.dropped) {
						t.Errorf("the edge reported %v dropped members, want %d", dropped, c.dropped)
					}
					if c.dropped == 0 && len(dropped) != 0 {
						t.Errorf("the edge reported %v dropped members, want none", dropped)
					}
				})
			}
		})
	}
}
