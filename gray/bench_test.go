package gray

import (
	"os"
	"testing"
)

// BenchmarkAnalyze analyses the six-rule example with its planted mistakes.
func BenchmarkAnalyze(b *testing.B) {
	f, err := os.Open("../examples/gray/checkout.yaml")
	if err != nil {
		b.Fatal(err)
	}
	rs, err := Load(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Analyze(rs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnalyzeAtTheBudget analyses rule sets priced just under
// MaxAnalysisSteps (see price), to measure what the budget allows: a
// case-insensitive family (the costlier per step) and a case-sensitive
// one with the most attribute classes.
func BenchmarkAnalyzeAtTheBudget(b *testing.B) {
	for _, c := range []struct {
		name               string
		rules, attrs, vals int
		caseSensitive      bool
	}{
		{"3rules-3attrs-21values-folded", 3, 3, 21, false},
		{"10rules-2attrs-50values-folded", 10, 2, 50, false},
		{"1rule-3attrs-150values-exact", 1, 3, 150, true},
	} {
		rs := attributeRules(c.rules, c.attrs, c.vals, c.caseSensitive)
		e, err := Compile(rs)
		if err != nil {
			b.Fatal(err)
		}
		cost, err := price(e.rules, MaxAnalysisSteps)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Analyze(rs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cost), "steps/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(cost), "ns/step")
		})
	}
}
