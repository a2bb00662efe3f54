// Package release renders release techniques inside a region.
//
// Lambda versions and aliases ([NewWeightedAlias], [NewABTest]):
//
//   - Blue/green: Weight 100 repoints the alias to the candidate in one
//     step; the stable version stays published, so rollback is Weight 0.
//   - Weighted canary: the alias serves the candidate with Weight percent
//     and the stable version with the rest (10 → 90 → 100, changed in code
//     and deployed by the pipeline); weights are validated (0–100, two
//     versions at most, both published).
//   - A/B test: a fixed split plus a dashboard of each metric per version
//     (the ExecutedVersion dimension). The alias splits per request; for
//     per-user assignment, use gray rules (sticky percentages of the user
//     key) instead of alias weights.
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
