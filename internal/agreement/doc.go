// Package agreement holds the property test that verify (the static
// reader) and sim (the simulator) agree on every pipeline in the
// repository's corpora: which stages are production, and whether a bad
// change that starts in production is contained. A disagreement is a
// defect in one of them (or a reading documented in
// docs/aws-semantics.md, listed in the test with its reason).
package agreement
