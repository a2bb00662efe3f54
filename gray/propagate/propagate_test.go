package propagate

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/gray"
)

// releases: Order v1.1 and Email v2.1 for Android users, before the
// Atlantis team's Email v2.2 and SMS v3; a tenth of users get Order v1.2.
const releases = `releases:
  - name: android
    priority: 10
    match: {attribute: {name: device, in: [Android]}}
    services: {order: order-v1.1, email: email-v2.1}
  - name: atlantis
    priority: 20
    match: {attribute: {name: city, in: [Atlantis]}}
    services: {email: email-v2.2, sms: sms-v3}
`

func router(t testing.TB) (*gray.Router, *gray.ReleaseSet) {
	t.Helper()
	_, rs, err := gray.LoadFile(strings.NewReader(releases), "releases.yaml")
	require.NoError(t, err)
	a, err := gray.AnalyzeReleases(rs)
	require.NoError(t, err)
	require.False(t, a.HasErrors())
	r, err := gray.CompileReleases(rs)
	require.NoError(t, err)
	return r, rs
}

// chain starts two services: order (the edge) calls email (downstream)
// through Transport; each answers with the version it served. Email routes
// with its own rules (what its AppConfig flag holds), order with the router.
func chain(t *testing.T) (order *httptest.Server, seen func() string) {
	r, rs := router(t)
	emailRules, err := gray.Compile(rs.ServiceRules("email"))
	require.NoError(t, err)
	var emailSaw string
	email := httptest.NewServer(Follow(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		v, _ := emailRules.Evaluate(ServiceContext(req.Context()))
		emailSaw = req.Header.Get("baggage")
		io.WriteString(w, v)
	})))
	t.Cleanup(email.Close)
	edge, err := NewEdge(EdgeOptions{Router: r, Labels: []string{"device", "city"}})
	require.NoError(t, err)
	client := &http.Client{Transport: Transport(nil)}
	order = httptest.NewServer(edge.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		call, _ := http.NewRequestWithContext(req.Context(), http.MethodGet, email.URL, nil)
		resp, err := client.Do(call)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		json.NewEncoder(w).Encode(map[string]string{
			"release": Release(req.Context()),
			"order":   r.Version(Release(req.Context()), "order"),
			"email":   string(body),
		})
	})))
	t.Cleanup(order.Close)
	return order, func() string { return emailSaw }
}

func call(t *testing.T, url string, baggage ...string) map[string]string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for _, b := range baggage {
		req.Header.Add("baggage", b)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// One request takes the same release in both services; what the edge
// decides is what email serves.
func TestOneReleaseAlongTheChain(t *testing.T) {
	order, emailSaw := chain(t)
	for _, tc := range []struct {
		name    string
		baggage []string
		want    map[string]string
	}{
		{"Android in Atlantis: android everywhere, email v2.1 not v2.2",
			[]string{"user=u-42,device=Android,city=Atlantis"},
			map[string]string{"release": "android", "order": "order-v1.1", "email": "email-v2.1"}},
		{"iOS in Atlantis: atlantis; order has no part in it",
			[]string{"user=u-42,device=iOS,city=Atlantis"},
			map[string]string{"release": "atlantis", "order": "stable", "email": "email-v2.2"}},
		{"no label matches: stable everywhere",
			[]string{"user=u-42,device=iOS,city=Paris"},
			map[string]string{"release": "", "order": "stable", "email": "stable"}},
		{"labels in two baggage headers",
			[]string{"user=u-42", "device=Android"},
			map[string]string{"release": "android", "order": "order-v1.1", "email": "email-v2.1"}},
		{"a forged decision is ignored at the edge",
			[]string{"user=u-42,device=iOS,city=Paris,safepipe-release=android"},
			map[string]string{"release": "", "order": "stable", "email": "stable"}},
		{"a forged decision is replaced by the edge's",
			[]string{"safepipe-release=android,city=Atlantis"},
			map[string]string{"release": "atlantis", "order": "stable", "email": "email-v2.2"}},
		{"an IP address as a label value is not used",
			[]string{"user=u-42,device=Android,city=10.0.0.7"},
			map[string]string{"release": "android", "order": "order-v1.1", "email": "email-v2.1"}},
		{"malformed baggage: no labels, no release",
			[]string{"device=Android,,,=;=x"},
			map[string]string{"release": "", "order": "stable", "email": "stable"}},
		{"oversized baggage: no labels, no release",
			[]string{"device=Android,pad=" + strings.Repeat("x", 9000)},
			map[string]string{"release": "", "order": "stable", "email": "stable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, call(t, order.URL, tc.baggage...))
			if tc.want["release"] != "" {
				assert.Contains(t, emailSaw(), "safepipe-release="+tc.want["release"], "the decision travelled in the baggage")
			} else {
				assert.NotContains(t, emailSaw(), "safepipe-release")
			}
		})
	}
}

func TestNewEdgeRefuses(t *testing.T) {
	r, _ := router(t)
	_, err := NewEdge(EdgeOptions{Labels: []string{"device", "X-Forwarded-For", "client_ip", "bad key", "device", Member}, Key: "remote.addr"})
	require.Error(t, err)
	for _, want := range []string{
		"Router is nil",
		`Key "remote.addr" names a network address`,
		`Labels[1] "X-Forwarded-For" names a network address`,
		`Labels[2] "client_ip" names a network address`,
		`Labels[3] "bad key" is not a baggage key`,
		`Labels[4] "device" is named twice`,
		`Labels[5] "safepipe-release" is the decision itself`,
	} {
		assert.ErrorContains(t, err, want)
	}
	e, err := NewEdge(EdgeOptions{Router: r})
	require.NoError(t, err)
	assert.Equal(t, DefaultKey, e.key)
}

// The Lambda wrappers do what the middleware does, from an event's
// headers in any case.
func TestLambda(t *testing.T) {
	r, _ := router(t)
	edge, err := NewEdge(EdgeOptions{Router: r, Labels: []string{"device"}})
	require.NoError(t, err)
	type event struct{ Headers map[string]string }
	headers := func(e event) map[string]string { return e.Headers }
	var down context.Context
	downstream := FollowLambda(headers, func(ctx context.Context, e event) (string, error) {
		down = ctx
		return Release(ctx), nil
	})
	front := EdgeLambda(edge, headers, func(ctx context.Context, e event) (string, error) {
		// What an HTTP or SDK call would carry on: the context's baggage.
		h := http.Header{}
		req := (&http.Request{Header: h}).WithContext(ctx)
		rt := Transport(roundTripFunc(func(out *http.Request) (*http.Response, error) {
			h = out.Header
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(""))}, nil
		}))
		req.URL, req.Method = mustURL("http://email"), http.MethodGet
		if _, err := rt.RoundTrip(req); err != nil {
			return "", err
		}
		return downstream(context.Background(), event{Headers: map[string]string{"Baggage": h.Get("baggage")}})
	})
	got, err := front(context.Background(), event{Headers: map[string]string{"BAGGAGE": "device=Android,safepipe-release=atlantis"}})
	require.NoError(t, err)
	assert.Equal(t, "android", got)
	assert.Equal(t, "android", Release(down))
	got, err = front(context.Background(), event{})
	require.NoError(t, err)
	assert.Empty(t, got)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Transport sends the baggage it is given and does not modify the caller's
// request (RoundTrip must not).
func TestTransportClones(t *testing.T) {
	r, _ := router(t)
	edge, err := NewEdge(EdgeOptions{Router: r, Labels: []string{"device"}})
	require.NoError(t, err)
	ctx, release := edge.Decide(extract(context.Background(), http.Header{"Baggage": {"device=Android"}}))
	require.Equal(t, "android", release)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://email", nil)
	req.Header.Set("baggage", "stale=1")
	var sent http.Header
	_, err = Transport(roundTripFunc(func(out *http.Request) (*http.Response, error) {
		sent = out.Header
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	})).RoundTrip(req)
	require.NoError(t, err)
	assert.Equal(t, "stale=1", req.Header.Get("baggage"), "the caller's request is untouched")
	assert.Contains(t, sent.Get("baggage"), "safepipe-release=android")
	assert.Contains(t, sent.Get("baggage"), "device=Android")
	assert.NotContains(t, sent.Get("baggage"), "stale")
}

func FuzzEdge(f *testing.F) {
	f.Add("user=u-42,device=Android,city=Atlantis")
	f.Add("safepipe-release=android;p=1,device=%41ndroid")
	f.Add(strings.Repeat("k=v,", 200))
	r, _ := router(f)
	edge, err := NewEdge(EdgeOptions{Router: r, Labels: []string{"device", "city"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header string) {
		ctx, release := edge.Decide(extract(context.Background(), http.Header{"Baggage": {header}}))
		assert.Equal(t, release, Release(ctx), "the context carries exactly the edge's decision")
		assert.Contains(t, []string{"", "android", "atlantis"}, release)
	})
}

// BenchmarkEdgeHandler: the edge middleware's cost per request (parse the
// baggage, decide, add the decision), without the network.
func BenchmarkEdgeHandler(b *testing.B) {
	r, _ := router(b)
	edge, err := NewEdge(EdgeOptions{Router: r, Labels: []string{"device", "city"}})
	if err != nil {
		b.Fatal(err)
	}
	h := edge.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("baggage", "user=u-42,device=Android,city=Atlantis")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// BenchmarkBaggageExtract is OpenTelemetry's own parse of the header
// BenchmarkEdgeHandler decides on: the floor of any middleware that reads
// baggage, beside which the edge's cost is read.
func BenchmarkBaggageExtract(b *testing.B) {
	h := http.Header{}
	h.Set("baggage", "user=u-42,device=Android,city=Atlantis")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		extract(ctx, h)
	}
}

// TestNoForgedHeaderRidesAlong: a "baggage" header copied onto an
// outgoing request (an event's headers forwarded, a proxy), in any case of
// its key, never reaches the next hop when the context carries no
// decision; the edge's handler removes a non-canonical one too; and the
// caller's member properties are not sent on (their spelling differs
// between OpenTelemetry versions, and could push the header over a
// limit at the next hop).
func TestNoForgedHeaderRidesAlong(t *testing.T) {
	var sent http.Header
	rt := Transport(roundTripFunc(func(out *http.Request) (*http.Response, error) {
		sent = out.Header
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	}))
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://email", nil)
	req.Header["baggage"] = []string{"safepipe-release=android"} // non-canonical, as adapters build it
	req.Header.Set("Baggage", "safepipe-release=android")
	_, err := rt.RoundTrip(req)
	require.NoError(t, err)
	for k := range sent {
		assert.False(t, strings.EqualFold(k, "baggage"), "a copied baggage header went on: %v", sent)
	}

	r, _ := router(t)
	edge, err := NewEdge(EdgeOptions{Router: r, Labels: []string{"device"}})
	require.NoError(t, err)
	var inner *http.Request
	h := edge.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { inner = r }))
	in := httptest.NewRequest(http.MethodGet, "/", nil)
	in.Header["baggage"] = []string{"safepipe-release=atlantis"}
	in.Header.Set("Baggage", "device=Android,k=v;p=%FF%FF")
	h.ServeHTTP(httptest.NewRecorder(), in)
	require.NotNil(t, inner)
	assert.Empty(t, inner.Header["baggage"], "the non-canonical header is gone")
	got := inner.Header.Get("Baggage")
	assert.Contains(t, got, "safepipe-release=android")
	assert.Contains(t, got, "k=v")
	assert.NotContains(t, got, ";", "properties are not sent on")
}
