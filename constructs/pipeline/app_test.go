package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeriveApp: a test binary is built from its package, so the app is
// that package's directory within the module.
func TestDeriveApp(t *testing.T) {
	app, err := DeriveApp()
	require.NoError(t, err)
	assert.Equal(t, "go run ./constructs/pipeline", app)
}

// TestBuildCommandsSynthesizeTheirApp: the default Build step names the app
// and the output, quoted for the shell.
func TestBuildCommandsSynthesizeTheirApp(t *testing.T) {
	cmds := BuildCommands("go run ./pipelines/it's")
	assert.Equal(t, `npx cdk synth --app 'go run ./pipelines/it'\''s' --output cdk.out`, cmds[len(cmds)-1])
	require.NoError(t, checkBuildSynth(cmds, "go run ./pipelines/it's"))
}

// TestBuildStepOfAnotherApp: in a repository of several pipelines, a Build
// step that synthesizes another app (by --app, or cdk.json's) fails synth,
// naming the command and the fix; a command that does not call cdk synth is
// taken on trust.
func TestBuildStepOfAnotherApp(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module team\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cdk.json"), []byte(`{"app": "go run ./pipelines/orders", "context": {}}`), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "pipelines", "billing"), 0o755))
	t.Chdir(filepath.Join(dir, "pipelines", "billing")) // cdk.json is found at the module root
	const billing = "go run ./pipelines/billing"
	for _, c := range []struct {
		name     string
		commands []string
		want     []string // substrings of the error; none: no error
	}{
		{"default", BuildCommands(billing), nil},
		{"bare synth of cdk.json's app", []string{"npm ci", "npx cdk synth"}, []string{`BuildCommands[1] "npx cdk synth" synthesizes cdk.json's app ("go run ./pipelines/orders")`, `add --app 'go run ./pipelines/billing'`}},
		{"synth of another app", []string{"npx cdk synth -a 'go run ./pipelines/orders'"}, []string{`synthesizes app "go run ./pipelines/orders"`}},
		{"--app= form", []string{`cdk synth --app="go run  ./pipelines/billing"`}, nil},
		{"cdk synthesize", []string{"npx cdk synthesize --quiet"}, []string{"cdk.json's app"}},
		{"make target", []string{"make synth"}, nil},
		{"every problem at once", []string{"npx cdk synth", "npx cdk synth -a x"}, []string{"BuildCommands[0]", "BuildCommands[1]"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkBuildSynth(c.commands, billing)
			if c.want == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	// cdk.json that names this app: the bare synth is fine.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cdk.json"), []byte(`{"app": "go run ./pipelines/billing"}`), 0o644))
	assert.NoError(t, checkBuildSynth([]string{"npx cdk synth"}, billing))
	// A cdk.json that is not one document is an error, not a guess.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cdk.json"), []byte(`{"app": "a", "app": "b"}`), 0o644))
	err := checkBuildSynth([]string{"npx cdk synth"}, billing)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "could not be read"), err.Error())
}

// FuzzShellWords: the build command reader never panics, and a command it
// reads as calling cdk synth with an app round-trips through shellQuote.
func FuzzShellWords(f *testing.F) {
	for _, s := range []string{"npx cdk synth --app 'go run .'", `cdk synth -a "a \" b"`, "a;b|c&&d", `x\`, `'open`, `"open`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		shellWords(s)
		if !strings.ContainsRune(s, 0) {
			synth, app, ok := synthApp("cdk synth --app " + shellQuote(s))
			if !ok || !synth || app != s {
				t.Fatalf("%q: synth %v app %q ok %v", s, synth, app, ok)
			}
		}
	})
}

// TestPipelineRefusesABuildOfAnotherApp: the check runs on the pipeline's
// props, with every other problem (here: none) reported with it. The
// repository's cdk.json runs examples/orders; this test's app is this
// package.
func TestPipelineRefusesABuildOfAnotherApp(t *testing.T) {
	_, stack := toolchain()
	props := smallProps()
	props.BuildCommands = []string{"npm ci", "npx cdk synth"}
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.Error(t, p.Err())
	assert.Contains(t, p.Err().Error(), `synthesizes cdk.json's app ("go run ./examples/orders"), not this pipeline's ("go run ./constructs/pipeline", App)`)

	_, stack = toolchain()
	props = smallProps()
	props.App = "go run ./examples/orders"
	props.BuildCommands = []string{"npm ci", "npx cdk synth"}
	p = NewBasePipeline(stack, jsii.String("Pipeline"), props)
	assert.NoError(t, p.Err())
}
