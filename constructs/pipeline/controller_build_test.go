package pipeline

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGatesBuildFailsNamingTheFix: in a team's module that requires
// safepipe but not the controller's own dependencies (no tool line, no
// go.sum entries), the controller's build fails with the fix in the error
// — not CDK's Docker fallback.
func TestGatesBuildFailsNamingTheFix(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(
		"module team\n\ngo 1.26\n\nrequire github.com/safepipe/safepipe v0.0.0\n\nreplace github.com/safepipe/safepipe => "+root+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644))
	t.Chdir(dir)
	t.Setenv("GOFLAGS", "-mod=readonly")
	t.Setenv("GOPROXY", "off")
	_, err := buildGates()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "go mod edit -tool=github.com/safepipe/safepipe/cmd/safepipe-gates && go mod tidy")
	assert.Contains(t, err.Error(), "go build said:")
}

// TestGatesBuildErrorOtherwise: a failure of another kind says how to see
// it, and a long compiler output is cut.
func TestGatesBuildErrorOtherwise(t *testing.T) {
	err := gatesBuildError(os.ErrPermission, []byte(string(make([]byte, 5000))))
	assert.Contains(t, err.Error(), "run `go build github.com/safepipe/safepipe/cmd/safepipe-gates`")
	assert.Less(t, len(err.Error()), 2600)
}
