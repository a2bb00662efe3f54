// Package release renders release techniques inside a region.
//
// Lambda versions and aliases ([NewWeightedAlias]):
//
//   - Blue/green: Percent 100 repoints the alias to the candidate in one
//     step; the version live before stays published, and a rollback (the
//     pipeline redeploying the previous template) repoints it at once.
//   - Weighted canary: the alias serves the candidate with Percent (whole
//     percent, 0–100; anything else is an error) and the version it served
//     at deploy time with the rest. That stable version is read when the
//     stack deploys, never written in code, so it is whatever is live in
//     each region. With a Ramp (deploy.Ramp) the share rises in steps after
//     the deployment (10 → 50 → 100) while the ramp's alarm stays OK: one
//     pipeline run, no code change per step.
//   - A/B test: a fixed Percent without a ramp; LiveVersion is A and the
//     candidate B, and Lambda's metrics per version (the ExecutedVersion
//     dimension) compare them. The alias splits per request; for per-user
//     assignment, use gray rules (sticky percentages of the user key)
//     instead of alias weights.
//
// [NewGrayRelease] deploys a gray-release rule set (package gray) as an
// AWS AppConfig multi-variant feature flag: the rules are analysed at
// synth (a shadowed rule, an ambiguous overlap or a variant with two rules
// fails synth), rendered in priority order, and rolled out with the
// doubling strategy — exponential growth, factor 2 — then a final bake,
// with the aggregate rollback alarm as the environment's monitor so that
// AppConfig rolls back by itself.
//
// AppConfig's rule language has no murmur3 and no case folding, so the
// rendered rules compare context values the application supplies with
// gray.Engine.AppConfigContext (key, lower-cased attributes, buckets); the
// flag then routes every request exactly as gray.Engine.Evaluate does.
package release
