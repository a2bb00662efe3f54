package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	s := func(wall, cpu time.Duration, rss int64) sample { return sample{wall, cpu, rss} }
	for _, tc := range []struct {
		name string
		runs []sample
		want sample
	}{
		{"one", []sample{s(3, 4, 5)}, s(3, 4, 5)},
		{"odd, each measure sorted on its own", []sample{s(9, 1, 50), s(1, 9, 10), s(5, 5, 30)}, s(5, 5, 30)},
		{"even: mean of the middle two", []sample{s(4, 10, 100), s(1, 20, 300), s(2, 40, 200), s(8, 30, 400)}, s(3, 25, 250)},
	} {
		if got := median(tc.runs); got != tc.want {
			t.Errorf("%s: median = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestAssemblyErrors(t *testing.T) {
	write := func(dir string, files map[string]string) {
		for name, body := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{"clean", map[string]string{"manifest.json": `{"artifacts":{}}`, "A.metadata.json": `{"/A":[{"type":"aws:cdk:warning"}]}`}, ""},
		{"no assembly", map[string]string{"other.json": `{}`}, "no cloud assembly"},
		{"error in manifest", map[string]string{"manifest.json": `{"x":{"type":"aws:cdk:error"}}`}, "manifest.json"},
		{"error in a stack's metadata file", map[string]string{"manifest.json": `{}`, "P.metadata.json": `{"/P":[{"type":"aws:cdk:error","data":"bundling failed"}]}`}, "P.metadata.json"},
		{"error in a nested assembly", map[string]string{"manifest.json": `{}`, "assembly-S/manifest.json": `{"type":"aws:cdk:error"}`}, "assembly-S"},
	} {
		dir := t.TempDir()
		write(dir, tc.files)
		err := assemblyErrors(dir)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: err = %v, want one naming %q", tc.name, err, tc.wantErr)
		}
	}
}
