// Package cdktest is what a team's Go tests of a CDK app built on safepipe
// need: one jsii process per test binary, and golden snapshots of
// synthesized templates that are deterministic and readable when they
// change.
//
//	func TestMain(m *testing.M) { cdktest.Main(m) }
//
//	func TestPipelineSnapshot(t *testing.T) {
//		cdktest.Golden(t, "testdata/pipeline.template.golden", template)
//	}
//
// Refresh the snapshots after a reviewed change with `go test -run
// Snapshot -update` (the flag is shared with any -update flag the test
// binary defines).
package cdktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

// Main runs a test binary's tests in one jsii process, quiet about Node's
// end of life, closes it, and removes the binary's TempDirs before exiting.
func Main(m *testing.M) {
	os.Setenv("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	code := m.Run()
	jsii.Close()
	if err := removeTempDirs(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

var (
	tempMu   sync.Mutex
	tempDirs []string
)

// TempDir makes a directory that lives as long as the test binary, for an
// app synthesized once and read by several tests (t.TempDir lives as long
// as one test); Main removes it. A synthesized app is tens of megabytes,
// so a directory left behind on every run fills the disk.
func TempDir(pattern string) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	tempMu.Lock()
	defer tempMu.Unlock()
	tempDirs = append(tempDirs, dir)
	return dir, nil
}

// removeTempDirs removes every TempDir made so far.
func removeTempDirs() error {
	tempMu.Lock()
	defer tempMu.Unlock()
	var errs []error
	for _, d := range tempDirs {
		errs = append(errs, os.RemoveAll(d))
	}
	tempDirs = nil
	return errors.Join(errs...)
}

// update is the -update flag, defined here unless the test binary already
// defines one.
func update() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	return f.Value.String() == "true"
}

func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden snapshots in testdata/")
	}
}

// hashRE matches asset hashes, which change with any byte of an asset.
var hashRE = regexp.MustCompile(`[0-9a-f]{64}`)

// Normalize renders v (a template, or any JSON value) as indented JSON with
// sorted keys and asset hashes replaced by "<asset-hash>": the same
// template gives the same bytes on every run and every machine.
func Normalize(v any) ([]byte, error) {
	if b, ok := v.([]byte); ok {
		var any any
		if err := json.Unmarshal(b, &any); err != nil {
			return nil, err
		}
		v = any
	}
	b, err := json.MarshalIndent(v, "", " ") // encoding/json sorts map keys
	if err != nil {
		return nil, err
	}
	return hashRE.ReplaceAll(append(b, '\n'), []byte("<asset-hash>")), nil
}

// Golden compares got (normalized) with the snapshot at path, rewriting it
// with -update. On a difference it fails with the changed lines, not the
// whole template.
func Golden(t testing.TB, path string, got any) {
	t.Helper()
	b, err := Normalize(got)
	if err != nil {
		t.Fatalf("cdktest: %s: %v", path, err)
	}
	if update() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cdktest: %v (run the test with -update to create the snapshot)", err)
	}
	if !bytes.Equal(want, b) {
		t.Errorf("cdktest: %s changed (review, then run with -update):\n%s", path, Diff(string(want), string(b), 40))
	}
}

// Diff lists the lines that differ between want and got, with their line
// numbers, at most limit lines.
func Diff(want, got string, limit int) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	// The longest common prefix and suffix frame the change.
	p := 0
	for p < len(w) && p < len(g) && w[p] == g[p] {
		p++
	}
	sw, sg := len(w), len(g)
	for sw > p && sg > p && w[sw-1] == g[sg-1] {
		sw--
		sg--
	}
	var out []string
	for i := p; i < sw && len(out) < limit; i++ {
		out = append(out, fmt.Sprintf("-%5d %s", i+1, w[i]))
	}
	for i := p; i < sg && len(out) < limit; i++ {
		out = append(out, fmt.Sprintf("+%5d %s", i+1, g[i]))
	}
	if n := (sw - p) + (sg - p); n > limit {
		out = append(out, fmt.Sprintf("… %d more changed lines", n-limit))
	}
	return strings.Join(out, "\n")
}
