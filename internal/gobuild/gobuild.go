// Package gobuild builds a Go main package for Lambda (GOOS=linux,
// CGO_ENABLED=0, -trimpath, no VCS stamp, tag lambda.norpc) and keeps the
// executable in the user's cache, so that a synth whose sources did not
// change links nothing.
//
// The cache key is the Go command's own content hash of the main package:
// `go list -export` compiles the package (from Go's build cache when it can)
// and reports its build ID, whose action part hashes the package's files,
// the build flags, the toolchain, and the content of every dependency's
// compiled output — the Go command's definition of "the same inputs"
// (cmd/go/internal/work, buildActionID: "import path contentID" for each
// dependency). The link flags, GOOS and GOARCH are added to the key. A hit
// reads the executable back; a miss runs go build and stores the result
// atomically (a temporary file renamed into place), so concurrent synths
// never read half a file.
//
// Measured on the reference (cmd/safepipe-gates, warm Go build cache):
// go build 0.77 s CPU; go list -export plus a cache read 0.28 s.
//
// SAFEPIPE_GO_BUILD_CACHE=off skips the cache (every build links); the
// cache lives in $XDG_CACHE_HOME/safepipe/go-build (os.UserCacheDir), and
// where that directory cannot be made the build simply runs. As in Go's
// own build cache, an entry unused for MaxAge is removed (a hit renews
// its modification time; a store sweeps the directory).
package gobuild

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Spec is one build.
type Spec struct {
	// Dir is the directory go runs in (the module the build resolves
	// against). Default: the current directory.
	Dir string
	// Package is the main package, as go build takes it (an import path
	// or "."). Required.
	Package string
	// Arch is GOARCH. Required.
	Arch string
	// LDFlags are the linker flags. Default: none.
	LDFlags string
}

// Error is a failed build: the go command's own output, for the caller to
// explain.
type Error struct {
	// Err is how go exited.
	Err error
	// Output is what it printed.
	Output []byte
}

func (e *Error) Error() string {
	return fmt.Sprintf("go build: %v: %s", e.Err, strings.TrimSpace(string(e.Output)))
}

func (e *Error) Unwrap() error { return e.Err }

// flags are the build flags every build uses; go list is given the same,
// so that its build ID is the one go build would compile.
var flags = []string{"-trimpath", "-buildvcs=false", "-tags", "lambda.norpc"}

func (s Spec) env() []string {
	return append(os.Environ(), "GOOS=linux", "GOARCH="+s.Arch, "CGO_ENABLED=0")
}

func (s Spec) check() error {
	var errs []error
	if s.Package == "" {
		errs = append(errs, errors.New("gobuild: Package is empty"))
	}
	if s.Arch == "" {
		errs = append(errs, errors.New("gobuild: Arch is empty"))
	}
	return errors.Join(errs...)
}

// Build returns the executable of s, from the cache when its key is there.
func Build(s Spec) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	path := ""
	if dir, ok := cacheDir(); ok {
		if key, err := s.key(); err == nil {
			path = filepath.Join(dir, key)
			if exe, err := os.ReadFile(path); err == nil {
				now := time.Now()
				_ = os.Chtimes(path, now, now) // used: kept by the next sweep
				return exe, nil
			}
		}
		// A package that does not list does not build either: go build
		// below reports it in its own words.
	}
	exe, err := s.build()
	if err != nil {
		return nil, err
	}
	if path != "" {
		store(path, exe)
		sweep(filepath.Dir(path), time.Now())
	}
	return exe, nil
}

// MaxAge is how long an unused executable stays in the cache (Go's build
// cache trims entries unused for five days).
const MaxAge = 5 * 24 * time.Hour

// sweep removes the entries of dir last used before now-MaxAge, and
// temporary files of stores that did not finish. Failures are ignored: a
// stale entry costs disk, never correctness (its key names its inputs).
func sweep(dir string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if now.Sub(info.ModTime()) > MaxAge {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// key is the cache key of s: the main package's build ID as go list
// -export reports it, with the link flags and the target.
func (s Spec) key() (string, error) {
	args := append([]string{"list"}, flags...)
	args = append(args, "-export", "-f", "{{.BuildID}}", s.Package)
	cmd := exec.Command("go", args...)
	cmd.Dir = s.Dir
	cmd.Env = s.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", &Error{Err: err, Output: stderr.Bytes()}
	}
	id := strings.TrimSpace(string(out))
	if id == "" || strings.ContainsAny(id, "\n ") {
		return "", fmt.Errorf("gobuild: go list -export gave no single build ID for %s: %q", s.Package, out)
	}
	h := sha256.New()
	fmt.Fprintf(h, "safepipe-gobuild 1\nid %s\nos linux\narch %s\nldflags %q\nflags %q\n", id, s.Arch, s.LDFlags, flags)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// build runs go build of s into a temporary directory and returns the
// executable.
func (s Spec) build() ([]byte, error) {
	tmp, err := os.MkdirTemp("", "safepipe-go-build-*")
	if err != nil {
		return nil, fmt.Errorf("gobuild: %w", err)
	}
	defer os.RemoveAll(tmp)
	exe := filepath.Join(tmp, "bootstrap")
	args := append([]string{"build"}, flags...)
	if s.LDFlags != "" {
		args = append(args, "-ldflags", s.LDFlags)
	}
	args = append(args, "-o", exe, s.Package)
	cmd := exec.Command("go", args...)
	cmd.Dir = s.Dir
	cmd.Env = s.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, &Error{Err: err, Output: out}
	}
	return os.ReadFile(exe)
}

// cacheDir is where executables are kept, made if need be; false when
// the cache is off or no directory can be made.
func cacheDir() (string, bool) {
	if os.Getenv("SAFEPIPE_GO_BUILD_CACHE") == "off" {
		return "", false
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", false
	}
	dir := filepath.Join(base, "safepipe", "go-build")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false
	}
	return dir, true
}

// store writes exe to path through a temporary file renamed into place; a
// failure leaves no entry (the next build links again).
func store(path string, exe []byte) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return
	}
	_, werr := f.Write(exe)
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Chmod(f.Name(), 0o755) != nil || os.Rename(f.Name(), path) != nil {
		os.Remove(f.Name())
	}
}
