// Package gobuild builds a Go main package for Lambda (GOOS=linux,
// CGO_ENABLED=0, -trimpath, no VCS stamp, tag lambda.norpc) and keeps the
// executable in the user's cache, so that a synth whose sources did not
// change links nothing.
//
// The cache key hashes the build ID of every package the executable is
// linked from, as `go list -deps -export` reports them (it compiles them,
// from Go's build cache when it can), with the link flags, GOOS and GOARCH.
// A package's build ID is its compile action ID (its files, flags,
// toolchain, and the compiled content of its direct imports) and the hash
// of its compiled output. All of them are needed, as in the Go command's
// own link action (cmd/go/internal/work, linkActionID: "Make sure the
// linker runs again if any of the packages it depends on has changed"): a
// change to the body of a function that a direct import calls but does not
// inline leaves that import's compiled output, and so the main package's
// compile ID, as they were. The key is computed again after a build and the
// executable is stored only if the sources did not move meanwhile.
//
// An entry is the executable's SHA-256 followed by the executable, written
// to a temporary file, synced and renamed into place, so concurrent synths
// never read half a file; a read checks the hash, and an entry that fails
// it is removed and rebuilt.
//
// Measured on the reference with a warm Go build cache: the gate
// controller's go build takes 0.57 s of CPU, its go list -deps -export
// 0.2 s; the orders handler's 0.4 s and 0.11 s.
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

// command is the go command verb (list or build) with the build flags
// and then args, run in s.Dir for linux/s.Arch without cgo.
func (s Spec) command(verb string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", append(append([]string{verb}, flags...), args...)...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+s.Arch, "CGO_ENABLED=0")
	return cmd
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
	dir, cached := cacheDir()
	key := ""
	if cached {
		// A package that does not list does not build either: go build
		// below reports it in its own words.
		key, _ = s.key()
		if key != "" {
			if exe, ok := load(filepath.Join(dir, key)); ok {
				return exe, nil
			}
		}
	}
	exe, err := s.build()
	if err != nil {
		return nil, err
	}
	if afterBuild != nil {
		afterBuild()
	}
	// Sources edited while go build ran would leave an executable of the
	// new sources under the old key: store it only under a key that still
	// holds.
	if key != "" {
		if after, err := s.key(); err == nil && after == key {
			store(filepath.Join(dir, key), exe)
			sweep(dir, time.Now())
		}
	}
	return exe, nil
}

// afterBuild, when set by a test, runs between the build and the second
// key (to edit the sources meanwhile).
var afterBuild func()

// load reads the entry at path: the executable, if its recorded SHA-256
// matches. A damaged entry is removed; a good one is renewed.
func load(path string) ([]byte, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	if len(b) < sha256.Size {
		os.Remove(path)
		return nil, false
	}
	sum, exe := b[:sha256.Size], b[sha256.Size:]
	if got := sha256.Sum256(exe); !bytes.Equal(got[:], sum) {
		os.Remove(path)
		return nil, false
	}
	now := time.Now()
	_ = os.Chtimes(path, now, now) // used: kept by the next sweep
	return exe, true
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

// key is the cache key of s: the build ID of every package the
// executable links, as go list -deps -export reports them, with the link
// flags and the target.
func (s Spec) key() (string, error) {
	cmd := s.command("list", "-deps", "-export", "-f", "{{.ImportPath}} {{.BuildID}}", s.Package)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", &Error{Err: err, Output: stderr.Bytes()}
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, l := range lines {
		path, id, ok := strings.Cut(l, " ")
		// unsafe alone compiles to nothing (it is the compiler's own).
		if !ok || path == "" || (id == "" && path != "unsafe") || strings.Contains(id, " ") {
			return "", fmt.Errorf("gobuild: go list -deps -export gave no build ID for a package of %s: %q", s.Package, l)
		}
	}
	h := sha256.New()
	fmt.Fprintf(h, "safepipe-gobuild 2\nos linux\narch %s\nldflags %q\nflags %q\n", s.Arch, s.LDFlags, flags)
	for _, l := range lines {
		fmt.Fprintf(h, "%s\n", l)
	}
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
	var args []string
	if s.LDFlags != "" {
		args = append(args, "-ldflags", s.LDFlags)
	}
	cmd := s.command("build", append(args, "-o", exe, s.Package)...)
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

// store writes exe's SHA-256 and exe to path through a temporary file,
// synced and renamed into place; a failure leaves no entry (the next build
// links again).
func store(path string, exe []byte) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return
	}
	sum := sha256.Sum256(exe)
	_, werr := f.Write(sum[:])
	if werr == nil {
		_, werr = f.Write(exe)
	}
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Rename(f.Name(), path) != nil {
		os.Remove(f.Name())
	}
}
