package verify

import (
	"bytes"
	"os"
	"testing"
)

// BenchmarkTemplateReader verifies the 84 KB passing pipeline fixture.
func BenchmarkTemplateReader(b *testing.B) {
	data, err := os.ReadFile("testdata/pass/pipeline.template.json")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := TemplateReader(bytes.NewReader(data), "pipeline", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssembly verifies the fixture assembly (13 templates).
func BenchmarkAssembly(b *testing.B) {
	for b.Loop() {
		if _, err := Assembly("testdata/assembly-pass", nil); err != nil {
			b.Fatal(err)
		}
	}
}
