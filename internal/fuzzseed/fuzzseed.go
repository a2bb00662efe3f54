// Package fuzzseed adds seeds to fuzz targets, keeping large ones out of
// fuzzing runs.
//
// The hostile inputs of issue 15 include megabyte inputs (a file one byte
// over a size cap, thousands of AZs, a 40-rule analysis bomb). As seeds
// they make every "go test" run them, which is what a regression seed is
// for. But while fuzzing, the engine mutates and minimizes its corpus
// entries, and minimizing a megabyte input stalls a worker for minutes
// (measured: 26 execs in the first minute). So Add skips seeds over
// MaxFuzzingSeed bytes when the test binary runs with -test.fuzz.
package fuzzseed

import (
	"flag"
	"testing"
)

// MaxFuzzingSeed is the largest seed added while fuzzing.
const MaxFuzzingSeed = 4096

// Fuzzing reports whether the test binary runs a fuzzing engine.
func Fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// Add adds each seed to f, leaving out seeds over MaxFuzzingSeed bytes
// while fuzzing.
func Add(f *testing.F, seeds ...[]byte) {
	fuzzing := Fuzzing()
	for _, s := range seeds {
		if fuzzing && len(s) > MaxFuzzingSeed {
			continue
		}
		f.Add(s)
	}
}
