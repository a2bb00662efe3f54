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
