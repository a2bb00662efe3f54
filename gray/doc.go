// Package gray releases features to slices of traffic by rules, and proves
// the rules sane before they ship. It is pure Go (no CDK).
//
// # Rules
//
// A [RuleSet] names the stable variant and its rules. A [Rule] has a
// name, a target variant, a priority (the lowest number is evaluated
// first; a request is routed by the first rule that matches; unmatched
// traffic goes to the stable variant) and a [Match]: an allow-list of
// keys, an attribute in a set of values (city, device, channel, business
// line; compared case-insensitively unless CaseSensitive), a [Percent]
// slice of a stable key, a probability, an attribute read as a [Number]
// (eq, lt, lte, gt, gte; absent or not a number never matches, as
// Unleash's NUM_ operators), as a [Date] (RFC 3339, before or after:
// Unleash's DATE_ operators on currentTime) or as a [Semver] (semver.org
// 2.0.0 precedence, strictly: Unleash's SEMVER_ operators), the negation of a match (not: Unleash's
// inverted constraint), or all/any of other matches. An attribute with
// `in: []` matches nothing, as Unleash reads an IN without values; the
// analysis reports such a rule. The analysis covers every operator: it
// enumerates, for each attribute compared as a number, the values
// compared with and one number below, between and above them (times
// likewise; for versions, each one, its immediate successor and 0.0.0-0).
// Number, date and semver conditions are not rendered as AppConfig flag
// rules (attributes reach AppConfig as strings); string and regular
// expression operators have no counterpart yet. [Load] reads YAML or JSON and reports every problem
// at once, naming the rule and the field.
//
// # Limits
//
// A rule file is read strictly and within bounds:
//
//   - At most [MaxRuleBytes] (1 MiB, the size of the AppConfig hosted
//     configuration the set renders to), through a limit reader; at most
//     [MaxRules] rules (256); nesting at most [MaxRuleDepth] (64) deep.
//   - Exactly one document: a second YAML document, or anything after a
//     JSON value, is an error.
//   - No duplicate keys, and field names exactly as documented: "Rules"
//     beside "rules", or "NAME", is an unknown field, named with its line.
//   - Typed only where the field says so: a plain YAML scalar read into a
//     text field is the text as written (a rule named 2026-01-01 or 007
//     keeps its name); numbers must be decimal and in range; booleans are
//     true or false; YAML tags (!!binary, !!str) and merge keys (<<) are
//     rejected.
//   - Aliases may repeat at most MaxRuleBytes in all, counted before
//     anything is expanded.
//
// The analysis ([Analyze]) is priced in steps before it runs and fails
// with [ErrTooComplex] ("too complex: … (limit …)") over
// [MaxAnalysisSteps], about a second of work: the bound is on the whole
// analysis, not on each rule.
//
// # Stable bucketing
//
// A percentage hashes its key like Unleash's gradual rollout with
// stickiness: bucket = murmur3_32(group + ":" + key, seed 0) % 100 + 1,
// and the rule matches From < bucket ≤ Percent. A request without a key
// (or without the attribute a percentage keys on) is in no slice, so it
// stays stable, except at the whole range (From 0, 100%) of the request
// key, which takes every request: Unleash's default stickiness gives a
// keyless request a random value, which only the whole range surely
// holds (a slice keyed on an attribute needs its value, as Unleash's
// explicit stickiness does). PerMille refines it for
// sub-percent rollouts (3‰): the per-mille bucket is (h % 100) * 10 +
// (h / 100) % 10 + 1, so per-mille 10p holds exactly the users of percent p
// and a ramp from 3‰ to 5% keeps every user it had. The same key always
// lands in the same bucket,
// in every process, after every restart, and in Unleash's SDKs. Rules that
// share a group slice the same ordering of users, so a later rule should
// take a disjoint slice (From); rules in different groups slice
// independent orderings.
//
// Probability conditions are not sticky: a user may see a different
// variant on every request. Use them only where mixing variants per user
// is harmless — never when one version writes data the other reads, and
// not for A/B tests measured per user.
//
// # Evaluation
//
// [Compile] prepares a rule set; [Engine.Evaluate] routes a [Context] in
// tens of nanoseconds without allocating (BenchmarkEvaluate).
//
// # Variants
//
// [Variants] splits requests among weighted variants (an A/B test inside a
// rule's slice) exactly as Unleash's SDKs do, so one user gets the same
// variant from safepipe as from Unleash: position = murmur3_32(group + ":"
// + stickiness value, seed [VariantSeed]) % total weight + 1, the first
// variant whose running weight reaches it; overrides first. Default
// stickiness is the key (Unleash's userId), then the attribute
// [SessionAttribute], then random; Unleash also tries remoteAddress before
// random, which safepipe never does (no routing by IP). Unleash's client
// specification is kept whole in testdata/unleash with its licence: the
// 32 variant vectors of 08, 12 and 16 pass, and of the 227 toggle vectors
// of all 22 files, the 117 gray can express (strategies default,
// userWithId, gradual and flexible rollouts; IN, NOT_IN, NUM_*, DATE_*, SEMVER_*, inverted,
// case-insensitive constraints) pass; testdata/unleash/REPORT.md says, per
// file, why the others cannot be expressed (random and IP-based
// strategies, string and regex operators, segments,
// dependent features, the delta API).
// Select is allocation-free (BenchmarkVariantsSelect).
//
// # Static analysis
//
// [Analyze] finds, before anything ships: shadowed rules (every request a
// rule accepts is taken by higher-priority rules — it can never match, like
// a catch clause after a broader one), ambiguous overlaps (equal priority,
// intersecting sets), a variant targeted by more than one rule, rules that
// match nothing, and split-order effects (20% then 30% of one group leaves
// the second rule 10%); and it reports each rule's nominal and effective
// share. The analysis is exact (see Analyze), within its budget (see
// Limits). "safepipe gray check FILE"
// prints it and exits non-zero on errors.
//
// # Releases over a call chain
//
// A [ReleaseSet] holds releases: each routes a slice of traffic (a
// [Match], a priority) to canary versions of several services at once —
// Order v1.1 and Email v2.1 for Android users. The principles of
// multi-canary release hold by construction or are checked by
// [AnalyzeReleases]:
//
//   - a request takes at most one release, the first by priority, and
//     every service of the chain serves it that release's version (or its
//     stable version when the release does not change the service);
//     unmatched traffic takes no release;
//   - a canary version belongs to one release: two releases naming the
//     same version of a service (a shared downstream canary) is an error;
//   - overlapping releases need explicit, different priorities (equal
//     priorities are an error); overlaps across priorities are reported
//     with the overlapping set, the release that takes it and what every
//     service serves it;
//   - a release that can never take a request (shadowed by others, in
//     whatever services) is an error, as within one rule set.
//
// The decision is made once, at the edge ([Router.Decide]), and travels
// with the request under the label [ReleaseAttribute]; each service routes
// on that label alone ([ReleaseSet.ServiceRules]) and never re-evaluates
// the conditions. A service that evaluated the releases itself would see
// only the releases that name it, and route a request that a
// higher-priority release took elsewhere into its own canary. Labels are
// the request's attributes (device, city, user): never the client's IP
// address, which changes along the chain (proxies, NAT) and identifies
// no user.
//
// # AppConfig
//
// [AppConfigFlag] renders a rule set as an AWS AppConfig multi-variant
// feature flag, rules in priority order; constructs/release deploys it.
package gray
