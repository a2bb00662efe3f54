package sim

import (
	"testing"
	"time"
)

func BenchmarkZZRef(b *testing.B) {
	for b.Loop() {
		a, err := Load("/work/research/ref-cdk.out", Limits{})
		if err != nil {
			b.Fatal(err)
		}
		m, err := NewModel(a)
		if err != nil {
			b.Fatal(err)
		}
		loc, _ := time.LoadLocation("America/Los_Angeles")
		if _, err := Run(m, Options{Start: time.Date(2026, 1, 5, 9, 0, 0, 0, loc)}); err != nil {
			b.Fatal(err)
		}
	}
}
