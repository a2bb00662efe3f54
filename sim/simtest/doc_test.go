package simtest_test

import (
	"testing"

	"github.com/safepipe/safepipe/sim/simtest"
)

// A team's test rehearses its synthesized pipeline: the happy path, and a
// bad change in the first production stage, under every reading.
func ExampleSafe() {
	t := &testing.T{} // in a test: the *testing.T given to it
	simtest.Safe(t, "../testdata/good", nil)
	// Output:
}
