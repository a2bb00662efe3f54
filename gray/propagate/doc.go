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
//   - Malformed or oversized baggage, as the OpenTelemetry version the
//     service is built with reads it: v1.39 (go.mod) drops a header of
//     more than 180 members, a member over 4,096 bytes, more than 8,192
//     bytes or a malformed member, and the request then has no labels and
//     takes no release; v1.47 (tested in gray/propagate/otelcompat) skips
//     malformed members and keeps 64 members of a longer header, dropping
//     the others at random — the edge decides on what remains. Either way
//     every hop follows the edge's decision. Nothing here panics on input.
//
// # The edge owns the header
//
// [Edge.Handler] rewrites the request's "baggage" header to the baggage it
// decided: a layer inside it that reads the header again (otelhttp's
// handler, a framework's tracing) finds the edge's decision, never the
// caller's, so the edge's middleware can go inside or outside otelhttp
// (both orders are tested, with otelhttp itself, in otelcompat). A Lambda
// edge ([EdgeLambda]) cannot rewrite its event: its handler must read the
// baggage from the context it is given, never from the event's headers.
//
// The baggage the edge sends on keeps within what every supported
// OpenTelemetry version accepts whole ([MaxMembers] 64, [MaxMemberBytes]
// 4,096, [MaxBaggageBytes] 8,192): the decision first, then the caller's
// members in key order as long as they fit, without their properties
// (";p=…", which versions spell differently: a header measured under one
// could be over a limit under another); the rest are left out and counted
// (EdgeOptions.Dropped). [Transport] always sends the context's baggage and
// nothing else: a "baggage" header copied onto the outgoing request, in
// any case of its key, is replaced or removed. Over those limits the next hop would drop
// the whole header (v1.39) or members at random, the decision perhaps
// (v1.47). Services downstream that add members of their own keep within
// them too.
//
// # Cost
//
// The edge's middleware parses the baggage once and evaluates the
// releases once per request (BenchmarkEdgeHandler); gray.Router.Decide
// itself does not allocate.
package propagate
