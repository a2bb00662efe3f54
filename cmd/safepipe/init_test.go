package main

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInitWritesARepo: init writes the team's repository — go.mod with the
// gate controller's tool line, the pinned CDK CLI and the postinstall that
// keeps go vet out of node_modules, cdk.json running the team's pipeline
// app, Go that parses, tests that run verifytest and simtest — and names
// the next steps. (.ci/init-check runs the written repository end to end:
// go vet, go test, cdk synth.)
func TestInitWritesARepo(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "payments")
	code, out, errOut := runCLI("init", "--safepipe-path", root, "--time-zone", "Europe/Berlin", "--holidays", "2026-12-25,2026-12-24,2026-12-25", dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "go mod tidy")
	assert.Contains(t, out, "npm install")
	var files []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	}))
	assert.Equal(t, []string{".gitignore", "README.md", "cdk.json", "go.mod", "org/org.go", "package.json",
		"pipelines/payments/main.go", "pipelines/payments/main_test.go", "service/handler/main.go", "service/handler/main_test.go", "service/service.go"}, files)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		return string(b)
	}
	gomod := read("go.mod")
	assert.Contains(t, gomod, "module example.com/payments\n")
	assert.Contains(t, gomod, "\ntool github.com/safepipe/safepipe/cmd/safepipe-gates\n")
	assert.Contains(t, gomod, "replace github.com/safepipe/safepipe => "+root)
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
		Scripts         map[string]string `json:"scripts"`
	}
	require.NoError(t, json.Unmarshal([]byte(read("package.json")), &pkg))
	assert.Equal(t, cdkCLIVersion, pkg.DevDependencies["aws-cdk"])
	assert.Contains(t, pkg.Scripts["postinstall"], "node_modules/go.mod")
	var cdk struct {
		App string `json:"app"`
	}
	require.NoError(t, json.Unmarshal([]byte(read("cdk.json")), &cdk))
	assert.Equal(t, "go run ./pipelines/payments", cdk.App, "the app pipeline.DeriveApp derives for the pipeline's package")
	org := read("org/org.go")
	assert.Contains(t, org, `TimeZone: "Europe/Berlin"`)
	assert.Contains(t, org, `var Holidays = []string{"2026-12-24", "2026-12-25"}`)
	tests := read("pipelines/payments/main_test.go")
	for _, want := range []string{"verifytest.Clean(t, assembly(t), nil)", "simtest.Safe(t, assembly(t), nil)", "cdktest.Golden("} {
		assert.Contains(t, tests, want)
	}
	assert.Contains(t, read("pipelines/payments/main.go"), `const StackName = "PaymentsPipeline"`)
	for _, f := range files {
		if strings.HasSuffix(f, ".go") {
			_, err := parser.ParseFile(token.NewFileSet(), f, read(f), parser.AllErrors)
			assert.NoError(t, err, f)
		}
	}
	assert.NotRegexp(t, regexp.MustCompile(`\{\{[-. ]|<no value>`), strings.Join(slices.Collect(func(yield func(string) bool) {
		for _, f := range files {
			if !yield(read(f)) {
				return
			}
		}
	}), "\n"), "every placeholder is filled")

	// init overwrites nothing.
	code, _, errOut = runCLI("init", "--safepipe-path", root, dir)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "is not empty")
}

// TestInitRefusesBadInput: every problem at once, each naming its flag;
// nothing is written.
func TestInitRefusesBadInput(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "x")
	code, _, errOut := runCLI("init", "--team", "Pay\"ments", "--module", "bad module", "--repo", `a/b"; evil`, "--time-zone", "Mars/Olympus",
		"--holidays", "2026-13-01", "--prod-account", "12", "--toolchain-region", "xx-east-1", "--connection-arn", "arn:x",
		"--safepipe-version", "v1", "--safepipe-path", ".", dir)
	assert.Equal(t, 2, code)
	for _, want := range []string{"--team", "--module", "--repo", "--time-zone", "--holidays", "--prod-account", "--toolchain-region", "--connection-arn", "both set"} {
		assert.Contains(t, errOut, want)
	}
	_, err := os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "nothing written")

	code, _, errOut = runCLI("init", "--safepipe-path", t.TempDir(), filepath.Join(t.TempDir(), "team"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "is not a safepipe checkout")

	code, _, errOut = runCLI("init", "--safepipe-version", "1.2", filepath.Join(t.TempDir(), "team"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "not a canonical semantic version")

	// A bad team is one problem, not three (the module and repository
	// made from it are not checked); flags after DIR and no DIR say so.
	code, _, errOut = runCLI("init", "--team", "Bad Name", "--safepipe-path", "../..", filepath.Join(t.TempDir(), "x"))
	assert.Equal(t, 2, code)
	assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
	code, _, errOut = runCLI("init", "--safepipe-path", "../..", filepath.Join(t.TempDir(), "x"), "--team", "foo")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "flags go before DIR")
	code, _, errOut = runCLI("init", "--safepipe-path", "../..")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "init takes the directory to write")

	// A test binary is not a release: it cannot name a version.
	code, _, errOut = runCLI("init", filepath.Join(t.TempDir(), "team"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "not a release build")
}

// TestInitPinsWhatTheProjectPins: the written repository pins the CDK CLI
// and the Go version this module is tested with.
func TestInitPinsWhatTheProjectPins(t *testing.T) {
	b, err := os.ReadFile("../../package.json")
	require.NoError(t, err)
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	require.NoError(t, json.Unmarshal(b, &pkg))
	assert.Equal(t, pkg.DevDependencies["aws-cdk"], cdkCLIVersion)
	gomod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	assert.Contains(t, string(gomod), "\ngo "+goVersion+"\n")
}
