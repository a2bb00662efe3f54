package cdktest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalizeIsDeterministic(t *testing.T) {
	a, err := Normalize(map[string]any{"b": 1, "a": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.zip"})
	require.NoError(t, err)
	b, err := Normalize([]byte(`{"a":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.zip","b":1}`))
	require.NoError(t, err)
	assert.Equal(t, string(a), string(b))
	assert.Contains(t, string(a), "<asset-hash>.zip")
	assert.True(t, strings.Index(string(a), `"a"`) < strings.Index(string(a), `"b"`))
}

func TestGoldenReportsTheChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	want, _ := Normalize(map[string]any{"x": 1, "y": 2})
	require.NoError(t, os.WriteFile(path, want, 0o644))
	ft := &fakeT{}
	Golden(ft, path, map[string]any{"x": 1, "y": 3})
	require.Len(t, ft.errs, 1)
	assert.Contains(t, ft.errs[0], `-    3  "y": 2`)
	assert.Contains(t, ft.errs[0], `+    3  "y": 3`)
	ft = &fakeT{}
	Golden(ft, path, map[string]any{"y": 2, "x": 1})
	assert.Empty(t, ft.errs)
}

type fakeT struct {
	testing.TB
	errs []string
}

func (f *fakeT) Helper()                           {}
func (f *fakeT) Errorf(format string, args ...any) { f.errs = append(f.errs, sprintf(format, args...)) }
func (f *fakeT) Fatalf(format string, args ...any) { f.errs = append(f.errs, sprintf(format, args...)) }
func (f *fakeT) Fatal(args ...any)                 { f.errs = append(f.errs, sprintf("%v", args...)) }

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func TestTempDirIsRemoved(t *testing.T) {
	dir, err := TempDir("cdktest-*")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.json"), []byte("{}"), 0o644))
	require.NoError(t, removeTempDirs())
	_, err = os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "removed with its content")
}
