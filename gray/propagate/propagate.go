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
	// Dropped is told how many of the caller's baggage members the edge
	// left out of the baggage it sends on, to keep it within what every
	// hop accepts (Limits), when it leaves any out: a counter for the
	// service's metrics. Default: none.
	Dropped func(members int)
}

// The limits the baggage the edge sends on keeps within: what every
// OpenTelemetry Go version in the supported range (README, "Gray release")
// accepts whole. otel v1.39 drops a header of more than 180 members, of a
// member over 4,096 bytes or of more than 8,192 bytes; v1.47 keeps 64
// members and drops the rest, whichever they are. Over any of them the
// next hop would lose the whole header, or the decision among the members
// it drops.
const (
	MaxMembers      = 64
	MaxMemberBytes  = 4096
	MaxBaggageBytes = 8192
)

// Edge decides a request's release once and puts the decision in the
// request's baggage, for every service downstream.
type Edge struct {
	router  *gray.Router
	key     string
	labels  []string
	dropped func(int)
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
	return &Edge{router: opts.Router, key: opts.Key, labels: slices.Clone(opts.Labels), dropped: opts.Dropped}, nil
}

// Decide reads the labels of ctx's baggage, decides the release and
// returns ctx with the baggage the request carries on: the edge's decision
// under Member, and the caller's members without any decision the caller
// sent (a client never chooses its release), as many as fit within
// MaxMembers, MaxMemberBytes and MaxBaggageBytes with the decision — in
// key order, a member over MaxMemberBytes never (EdgeOptions.Dropped counts
// what is left out). Label values that are IP addresses are not used. It
// returns the release ("" for none).
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
	var decision *baggage.Member
	if release != "" {
		if m, err := baggage.NewMemberRaw(Member, release); err == nil {
			decision = &m
		}
	}
	out, dropped := fit(b, decision)
	if dropped > 0 && e.dropped != nil {
		e.dropped(dropped)
	}
	return baggage.ContextWithBaggage(ctx, out), release
}

// fit is the decision (if any) and as many of b's members as keep the
// baggage within the limits, in key order, and how many it left out.
func fit(b baggage.Baggage, decision *baggage.Member) (baggage.Baggage, int) {
	// The usual case: a few short members, within every limit with the
	// decision (no member can be over MaxMemberBytes when all of them
	// together are not).
	if n := len(b.String()); n <= MaxMemberBytes && b.Len() < MaxMembers && !strings.Contains(b.String(), ";") {
		if decision == nil {
			return b, 0
		}
		if n+1+len(decision.String()) <= MaxBaggageBytes {
			if out, err := b.SetMember(*decision); err == nil {
				return out, 0
			}
		}
	}
	// The caller's members go on without their properties (";p=…"):
	// OpenTelemetry versions spell a property differently (v1.47 keeps
	// its text, v1.39 decodes and re-encodes it, three bytes an invalid
	// one becoming nine), so a header measured here could be over the
	// limit at the next hop, which would then drop it whole, decision
	// included.
	var members []baggage.Member
	for _, m := range b.Members() {
		if bare, err := baggage.NewMemberRaw(m.Key(), m.Value()); err == nil {
			members = append(members, bare)
		}
	}
	slices.SortFunc(members, func(x, y baggage.Member) int { return strings.Compare(x.Key(), y.Key()) })
	kept := make([]baggage.Member, 0, min(len(members)+1, MaxMembers))
	size := -1 // no comma before the first member
	if decision != nil {
		kept = append(kept, *decision)
		size += 1 + len(decision.String())
	}
	for _, m := range members {
		n := len(m.String())
		if n > MaxMemberBytes || len(kept) >= MaxMembers || size+1+n > MaxBaggageBytes {
			continue
		}
		kept = append(kept, m)
		size += 1 + n
	}
	out, err := baggage.New(kept...)
	if err != nil {
		// Within the limits by construction; should a version of
		// OpenTelemetry count otherwise, the decision alone still goes on.
		out, _ = baggage.New()
		if decision != nil {
			out, _ = baggage.New(*decision)
		}
		return out, len(members)
	}
	return out, len(members) - (len(kept) - boolInt(decision != nil))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
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
// the request's context (Release) and baggage (Transport sends it on),
// and in the request's "baggage" header, which it rewrites to that same
// baggage: a layer inside it that reads the header again (otelhttp, a web
// framework's tracing) finds the edge's decision, never the caller's.
// Malformed or oversized baggage counts as no labels: the request takes no
// release.
func (e *Edge) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, _ := e.Decide(extract(r.Context(), r.Header))
		r = r.WithContext(ctx)
		// WithContext copies the request, not its header map: the header
		// the caller's server holds stays as it came.
		r.Header = r.Header.Clone()
		if r.Header == nil {
			r.Header = http.Header{}
		}
		delBaggage(r.Header)
		propagation.Baggage{}.Inject(ctx, propagation.HeaderCarrier(r.Header))
		next.ServeHTTP(w, r)
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
	// The outgoing baggage is the context's, always: a "baggage" header
	// the caller copied onto the request (an event's headers forwarded,
	// a proxy) is replaced, or removed when the context has none, so a
	// client's forged decision cannot ride along.
	out := r.Clone(r.Context())
	delBaggage(out.Header)
	propagation.Baggage{}.Inject(r.Context(), propagation.HeaderCarrier(out.Header))
	return t.base.RoundTrip(out)
}

// delBaggage removes every "baggage" header, whatever the case of its key
// (a header map built by hand need not be canonical).
func delBaggage(h http.Header) {
	for k := range h {
		if strings.EqualFold(k, "baggage") {
			delete(h, k)
		}
	}
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
