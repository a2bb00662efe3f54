package propagate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"

	"github.com/safepipe/safepipe/gray"
)

// Member is the baggage member that carries the edge's decision: the
// release's name (gray.ReleaseAttribute). Absent: no release, every
// service serves its stable version.
const Member = gray.ReleaseAttribute

// DefaultKey is the baggage member EdgeOptions.Key defaults to.
const DefaultKey = "user"

// MaxLabels bounds EdgeOptions.Labels (the W3C limit on list-members a
// platform must propagate is 64).
const MaxLabels = 64

// ipLabels are label names that carry a client's network address. A
// request's release never depends on its IP: addresses change along the
// chain (proxies, NAT, IPv4/IPv6) and identify no user, so routing by them
// sends one user to different releases and many users to one.
var ipLabels = []string{
	"ip", "clientip", "remoteip", "sourceip", "srcip", "remoteaddr", "remoteaddress",
	"xforwardedfor", "forwarded", "forwardedfor", "xrealip", "trueclientip", "cfconnectingip",
	"xclientip", "clientaddress", "clientaddr", "peeraddress", "peeraddr",
}

// isIPLabel reports whether a label name is one of ipLabels, ignoring case
// and the separators '-', '_' and '.'.
func isIPLabel(name string) bool {
	n := strings.NewReplacer("-", "", "_", "", ".", "").Replace(strings.ToLower(name))
	return slices.Contains(ipLabels, n)
}

// keyRE is a baggage key: a token (RFC 7230), as the W3C baggage
// specification defines keys.
var keyRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")

// EdgeOptions configure the edge: the service that receives requests from
// outside and decides their release.
type EdgeOptions struct {
	// Router decides releases (gray.CompileReleases). Required.
	Router *gray.Router
	// Key is the baggage member that holds the request's key, the user (or
	// device, tenant) that sticky percentages slice. Never an IP address.
	// Default: DefaultKey ("user").
	Key string
	// Labels are the baggage members read as the request's attributes
	// (device, city, channel), each under its own name. Never an IP
	// address: a name such as "ip", "x-forwarded-for" or "remote-addr" is
	// refused. Default: none (the key alone).
	Labels []string
}

// Edge decides a request's release once and puts the decision in the
// request's baggage, for every service downstream.
type Edge struct {
	router *gray.Router
	key    string
	labels []string
}

// NewEdge validates opts and returns the edge; the error names every
// problem.
func NewEdge(opts EdgeOptions) (*Edge, error) {
	var errs []error
	if opts.Router == nil {
		errs = append(errs, errors.New("propagate: EdgeOptions.Router is nil"))
	}
	if opts.Key == "" {
		opts.Key = DefaultKey
	}
	check := func(field, name string) {
		switch {
		case !keyRE.MatchString(name):
			errs = append(errs, fmt.Errorf("propagate: EdgeOptions.%s %q is not a baggage key (1–128 token characters)", field, name))
		case isIPLabel(name):
			errs = append(errs, fmt.Errorf("propagate: EdgeOptions.%s %q names a network address; a release never depends on a client's IP (it changes along the chain and identifies no user)", field, name))
		case name == Member:
			errs = append(errs, fmt.Errorf("propagate: EdgeOptions.%s %q is the decision itself, which the edge makes", field, name))
		}
	}
	check("Key", opts.Key)
	if len(opts.Labels) > MaxLabels {
		errs = append(errs, fmt.Errorf("propagate: EdgeOptions.Labels has %d labels, over the limit of %d", len(opts.Labels), MaxLabels))
	} else {
		seen := map[string]bool{opts.Key: true}
		for i, l := range opts.Labels {
			check(fmt.Sprintf("Labels[%d]", i), l)
			if seen[l] {
				errs = append(errs, fmt.Errorf("propagate: EdgeOptions.Labels[%d] %q is named twice (or is the key)", i, l))
			}
			seen[l] = true
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Edge{router: opts.Router, key: opts.Key, labels: slices.Clone(opts.Labels)}, nil
}

// Decide reads the labels of ctx's baggage, decides the release and
// returns ctx with the baggage the request carries on: the caller's
// members, without any decision the caller sent (a client never chooses
// its release), with the edge's decision under Member. Label values that
// are IP addresses are not used. It returns the release ("" for none).
func (e *Edge) Decide(ctx context.Context) (context.Context, string) {
	b := baggage.FromContext(ctx).DeleteMember(Member)
	req := gray.Context{Attributes: make(map[string]string, len(e.labels))}
	if v := b.Member(e.key).Value(); usable(v) {
		req.Key = v
	}
	for _, l := range e.labels {
		if v := b.Member(l).Value(); usable(v) {
			req.Attributes[l] = v
		}
	}
	release := e.router.Decide(&req)
	if release != "" {
		if m, err := baggage.NewMemberRaw(Member, release); err == nil {
			if withRelease, err := b.SetMember(m); err == nil {
				b = withRelease
			} else {
				// The caller's baggage is full (W3C: 8192 bytes); the
				// decision matters more than the caller's members.
				b, _ = baggage.New(m)
			}
		}
	}
	return baggage.ContextWithBaggage(ctx, b), release
}

// usable reports whether a label value may route a request: present, and
// not an IP address.
func usable(v string) bool {
	if v == "" {
		return false
	}
	_, err := netip.ParseAddr(v)
	return err != nil
}

// Handler is the edge's net/http middleware: it decides every request's
// release from its "baggage" header and serves next with the decision in
// the request's context (Release) and baggage (Transport sends it on).
// Malformed or oversized baggage counts as no labels: the request takes no
// release.
func (e *Edge) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, _ := e.Decide(extract(r.Context(), r.Header))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Follow is a downstream service's net/http middleware: it reads the
// request's baggage, the edge's decision included, into the request's
// context, and never evaluates the releases again (see the package
// documentation). A request without a decision takes no release.
func Follow(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(extract(r.Context(), r.Header)))
	})
}

// Release returns the release ctx's request takes, from its baggage: ""
// for none.
func Release(ctx context.Context) string {
	return baggage.FromContext(ctx).Member(Member).Value()
}

// ServiceContext is the request as a service's own rules see it
// (gray.ReleaseSet.ServiceRules, or its AppConfig flag): the edge's
// decision under gray.ReleaseAttribute.
func ServiceContext(ctx context.Context) *gray.Context {
	return &gray.Context{Attributes: map[string]string{gray.ReleaseAttribute: Release(ctx)}}
}

// Transport wraps base (http.DefaultTransport when nil) so that every
// request carries its context's baggage, the decision included, in its
// "baggage" header: send downstream calls with the incoming request's
// context (req.WithContext(r.Context())).
func Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper{base: base}
}

type roundTripper struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper. It clones the request before
// setting the header, as RoundTrip must not modify its request.
func (t roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	b := baggage.FromContext(r.Context())
	if b.Len() == 0 {
		return t.base.RoundTrip(r)
	}
	out := r.Clone(r.Context())
	out.Header.Del("baggage")
	propagation.Baggage{}.Inject(r.Context(), propagation.HeaderCarrier(out.Header))
	return t.base.RoundTrip(out)
}

// extract reads the W3C baggage of header (every "baggage" header) into
// ctx; OpenTelemetry's propagator drops a header that does not parse or
// is over the W3C limits.
func extract(ctx context.Context, header http.Header) context.Context {
	return propagation.Baggage{}.Extract(ctx, propagation.HeaderCarrier(header))
}

// Headers reads the baggage from a Lambda event's headers (for example
// API Gateway's "headers" map), whose names may be in any case.
func Headers(ctx context.Context, headers map[string]string) context.Context {
	h := http.Header{}
	for k, v := range headers {
		if strings.EqualFold(k, "baggage") {
			h.Add("baggage", v)
		}
	}
	return extract(ctx, h)
}

// EdgeLambda wraps a Lambda handler of the edge: it reads the baggage
// from the event's headers (headers returns them), decides the release
// and calls handler with the decision in its context, as Handler does.
func EdgeLambda[In, Out any](e *Edge, headers func(In) map[string]string, handler func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		ctx, _ = e.Decide(Headers(ctx, headers(in)))
		return handler(ctx, in)
	}
}

// FollowLambda wraps a downstream Lambda handler: the baggage of the
// event's headers, the edge's decision included, is in handler's context,
// as Follow does.
func FollowLambda[In, Out any](headers func(In) map[string]string, handler func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		return handler(Headers(ctx, headers(in)), in)
	}
}
