package verify

import (
	"bytes"
	"os"
	"testing"
)

// BenchmarkTemplateReader verifies the passing pipeline fixture (one
// template).
func BenchmarkTemplateReader(b *testing.B) {
	data, err := os.ReadFile("testdata/pass/pipeline.template.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
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

// BenchmarkAssemblyLargestReal verifies the largest real assembly of
// testdata/real (15 templates, 1.3 MB).
func BenchmarkAssemblyLargestReal(b *testing.B) {
	for b.Loop() {
		if _, err := Assembly("testdata/real/dpra-application-pipeline", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssemblyExternal verifies the assembly named by
// SAFEPIPE_BENCH_ASSEMBLY (the reference's cdk.out after make synth);
// skipped when unset.
func BenchmarkAssemblyExternal(b *testing.B) {
	dir := os.Getenv("SAFEPIPE_BENCH_ASSEMBLY")
	if dir == "" {
		b.Skip("SAFEPIPE_BENCH_ASSEMBLY is not set")
	}
	for b.Loop() {
		if _, err := Assembly(dir, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJSON reads the largest template of the real assemblies
// with the strict decoder.
func BenchmarkDecodeJSON(b *testing.B) {
	data, err := os.ReadFile("testdata/real/dpra-application-pipeline/fruit-api-pipeline.template.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeJSON(data, "t", 128); err != nil {
			b.Fatal(err)
		}
	}
}
