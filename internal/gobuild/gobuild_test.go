package gobuild

import (
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// module writes a module with a main package importing a package of its
// own, and returns its directory.
func module(t *testing.T, lib string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":     "module example.test/m\n\ngo 1.24\n",
		"main.go":    "package main\n\nimport \"example.test/m/lib\"\n\nfunc main() { println(lib.Word()) }\n",
		"lib/lib.go": "package lib\n\nimport \"example.test/m/deep\"\n\nfunc Word() string { return " + lib + " + deep.Word() }\n",
		// deep's function is not inlined into lib: a change to its body
		// leaves lib's compiled package byte for byte the same.
		"deep/deep.go": "package deep\n\n//go:noinline\nfunc Word() string { return \"deep\" }\n",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	}
	return dir
}

// isolate points the cache at a new directory through XDG_CACHE_HOME and
// returns it; Go's own build cache, which also defaults to a directory
// under XDG_CACHE_HOME, stays where it was (else every test would compile
// the runtime).
func isolate(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	require.NoError(t, err)
	t.Setenv("GOCACHE", strings.TrimSpace(string(out)))
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	return cache
}

// entries are the cache's files.
func entries(t *testing.T, cache string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(cache, "safepipe", "go-build", "*"))
	require.NoError(t, err)
	return names
}

// poison overwrites every cache entry with a well-formed entry of the
// executable "poison", so that a later Build that returns the poison
// proves it read the cache, and one that does not proves it built.
func poison(t *testing.T, cache string) {
	t.Helper()
	sum := sha256.Sum256([]byte("poison"))
	for _, p := range entries(t, cache) {
		require.NoError(t, os.WriteFile(p, append(sum[:], "poison"...), 0o755))
	}
}

func TestCacheHitsOnlyForTheSameInputs(t *testing.T) {
	cache := isolate(t)
	dir := module(t, `"one"`)
	spec := Spec{Dir: dir, Package: ".", Arch: "arm64", LDFlags: "-s -w -buildid="}

	first, err := Build(spec)
	require.NoError(t, err)
	require.Greater(t, len(first), 1000, "an executable")
	require.Len(t, entries(t, cache), 1)
	again, err := Build(spec)
	require.NoError(t, err)
	assert.Equal(t, first, again, "the cached executable is the built one, byte for byte")

	poison(t, cache)
	hit, err := Build(spec)
	require.NoError(t, err)
	assert.Equal(t, "poison", string(hit), "same sources, flags and target: read from the cache")

	cases := []struct {
		name   string
		change func(*Spec)
	}{
		{"a dependency's code", func(s *Spec) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "lib", "lib.go"), []byte("package lib\n\nimport \"example.test/m/deep\"\n\nfunc Word() string { return \"two\" + deep.Word() }\n"), 0o644))
		}},
		{"the code of a dependency's dependency", func(s *Spec) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "deep", "deep.go"), []byte("package deep\n\n//go:noinline\nfunc Word() string { return \"deeper\" }\n"), 0o644))
		}},
		{"the link flags", func(s *Spec) { s.LDFlags = "-s -w" }},
		{"the architecture", func(s *Spec) { s.Arch = "amd64" }},
		{"the main package's code", func(s *Spec) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "extra.go"), []byte("package main\n\nvar _ = 1\n"), 0o644))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := spec
			c.change(&s)
			exe, err := Build(s)
			require.NoError(t, err)
			assert.NotEqual(t, "poison", string(exe), "a changed input builds again")
			assert.Greater(t, len(exe), 1000)
			poison(t, cache)
		})
	}
}

// TestSourcesEditedDuringTheBuildAreNotCached: an edit while go build
// runs may or may not be in the executable, so nothing is stored under
// either key; the next build builds the edited sources.
func TestSourcesEditedDuringTheBuildAreNotCached(t *testing.T) {
	cache := isolate(t)
	dir := module(t, `"one"`)
	spec := Spec{Dir: dir, Package: ".", Arch: "arm64"}
	afterBuild = func() {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "deep", "deep.go"), []byte("package deep\n\n//go:noinline\nfunc Word() string { return \"edited\" }\n"), 0o644))
	}
	t.Cleanup(func() { afterBuild = nil })
	_, err := Build(spec)
	require.NoError(t, err)
	assert.Empty(t, entries(t, cache), "nothing stored")
	afterBuild = nil
	exe, err := Build(spec)
	require.NoError(t, err)
	assert.Contains(t, string(exe), "edited")
	assert.Len(t, entries(t, cache), 1)
}

// TestDamagedEntryIsRebuilt: an entry whose content does not match its
// recorded hash (a torn write, a flipped byte) is never returned: the
// executable is built again and the entry replaced.
func TestDamagedEntryIsRebuilt(t *testing.T) {
	cache := isolate(t)
	spec := Spec{Dir: module(t, `"one"`), Package: ".", Arch: "arm64"}
	exe, err := Build(spec)
	require.NoError(t, err)
	for _, damage := range []func([]byte) []byte{
		func(b []byte) []byte { b[len(b)-1] ^= 1; return b },
		func(b []byte) []byte { return b[:10] },
		func(b []byte) []byte { return nil },
	} {
		path := entries(t, cache)[0]
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, damage(b), 0o755))
		again, err := Build(spec)
		require.NoError(t, err)
		assert.Equal(t, exe, again)
		b, err = os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, exe, b[sha256.Size:], "the entry is written again")
	}
}

func TestCacheOff(t *testing.T) {
	cache := isolate(t)
	t.Setenv("SAFEPIPE_GO_BUILD_CACHE", "off")
	exe, err := Build(Spec{Dir: module(t, `"one"`), Package: ".", Arch: "arm64"})
	require.NoError(t, err)
	assert.Greater(t, len(exe), 1000)
	assert.Empty(t, entries(t, cache))
}

func TestFailureCarriesTheCompilersWords(t *testing.T) {
	isolate(t)
	_, err := Build(Spec{Dir: module(t, `1`), Package: ".", Arch: "arm64"})
	var failed *Error
	require.True(t, errors.As(err, &failed), "%v", err)
	assert.Contains(t, string(failed.Output), "mismatched types")
}

func TestSpecIsChecked(t *testing.T) {
	_, err := Build(Spec{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Package is empty")
	assert.Contains(t, err.Error(), "Arch is empty")
}

// TestUnusedEntriesAreSwept: a store removes entries unused for MaxAge;
// a hit renews its entry, so that one in use is never swept.
func TestUnusedEntriesAreSwept(t *testing.T) {
	cache := isolate(t)
	spec := Spec{Dir: module(t, `"one"`), Package: ".", Arch: "arm64"}
	_, err := Build(spec)
	require.NoError(t, err)
	used := entries(t, cache)
	require.Len(t, used, 1)
	dir := filepath.Dir(used[0])
	old := time.Now().Add(-MaxAge - time.Hour)
	stale := filepath.Join(dir, "stale")
	require.NoError(t, os.WriteFile(stale, []byte("x"), 0o755))
	require.NoError(t, os.Chtimes(stale, old, old))
	require.NoError(t, os.Chtimes(used[0], old, old))

	_, err = Build(spec) // a hit: renews the used entry
	require.NoError(t, err)
	info, err := os.Stat(used[0])
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), info.ModTime(), time.Minute)

	spec.LDFlags = "-s -w" // a miss: stores, and sweeps
	_, err = Build(spec)
	require.NoError(t, err)
	assert.NoFileExists(t, stale)
	assert.FileExists(t, used[0])
	assert.Len(t, entries(t, cache), 2)
}
