// Package release renders release techniques inside a region.
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
