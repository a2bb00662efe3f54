// Package propagate carries a gray release's decision along a call chain
// in the W3C baggage header (https://www.w3.org/TR/baggage/), read and
// written with OpenTelemetry's baggage package, never parsed by hand.
//
// # Decide once, at the edge
//
// The service that receives a request from outside (the edge) reads the
// request's labels — a key such as the user ID, and attributes such as
// device and city — from its baggage, decides the release once with a
// gray.Router ([Edge.Decide], [Edge.Handler], [EdgeLambda]), and adds the
// decision to the baggage under [Member] ("safepipe-release"). Every
// service downstream reads the decision ([Follow], [FollowLambda],
// [Release]) and serves that release's version of itself
// (gray.Router.Version, or its own rules, gray.ReleaseSet.ServiceRules,
// with [ServiceContext]); outgoing calls carry the baggage on
// ([Transport]). No service downstream evaluates the releases again: it
// would see only the releases that name it, and could put a request that
// a higher-priority release took into its own canary.
//
// # What the edge refuses
//
//   - A decision sent by the caller: the edge removes any incoming
//     [Member] before deciding, so a client cannot choose its canary.
//     Downstream services trust the member they receive; they must be
//     reachable only through the edge.
//   - A client IP address as a label: a label named like an address
//     ("ip", "x-forwarded-for", "remote-addr", …) is a configuration
//     error, and a label value that parses as an IP address is not used.
//     Addresses change along the chain (proxies, NAT) and identify no
//     user.
//   - Malformed or oversized baggage: OpenTelemetry's propagator drops a
//     header that does not parse or exceeds the W3C limits (180 members,
//     4096 bytes a member, 8192 bytes in all; the specification requires
//     propagating baggage "if the resulting baggage-string would be 8192
//     bytes or less"); the request then has no labels and takes no
//     release. Nothing here panics on input.
//
// # Cost
//
// The edge's middleware parses the baggage once and evaluates the
// releases once per request (BenchmarkEdgeHandler); gray.Router.Decide
// itself does not allocate.
package propagate
