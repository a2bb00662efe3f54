package sim

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostileAssembly copies a fixture into a temporary directory and gives
// every CodeBuild project of its pipeline a buildspec that would write a
// marker file (and run id) if anything executed it, and every action the
// same in its configuration. It returns the assembly and the marker's
// path.
func hostileAssembly(t *testing.T, fixture string) (dir, marker string) {
	t.Helper()
	dir = t.TempDir()
	out := t.TempDir()
	marker = filepath.Join(out, "marker")
	src := filepath.Join("testdata", fixture)
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	cmds := []string{"touch " + marker, "id > " + marker + ".id", "sh -c 'echo owned > " + marker + ".sh'"}
	spec, err := json.Marshal(map[string]any{"version": "0.2", "phases": map[string]any{
		"install": map[string]any{"commands": cmds}, "build": map[string]any{"commands": cmds}}})
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		if e.Name() == "pipeline.template.json" {
			var doc map[string]any
			require.NoError(t, json.Unmarshal(b, &doc))
			for _, r := range doc["Resources"].(map[string]any) {
				res := r.(map[string]any)
				if res["Type"] == "AWS::CodeBuild::Project" {
					props := res["Properties"].(map[string]any)
					props["Source"] = map[string]any{"Type": "CODEPIPELINE", "BuildSpec": string(spec)}
				}
			}
			b, err = json.Marshal(doc)
			require.NoError(t, err)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644))
	}
	return dir, marker
}

// TestNothingReadIsExecuted: the simulator is pointed at assemblies from
// pull requests and other teams. A buildspec that would write a marker
// file is never run, whatever the action looks like to the model (the old
// design's watch actions, which earlier simulators ran, included), and the
// run writes nothing.
func TestNothingReadIsExecuted(t *testing.T) {
	for _, fixture := range []string{"defect-holiday-blocker-rolls-back", "rollback-through-firing-alarms", "good", "ec2-server"} {
		t.Run(fixture, func(t *testing.T) {
			dir, marker := hostileAssembly(t, fixture)
			a, err := Load(dir, Limits{})
			require.NoError(t, err)
			m, err := NewModel(a)
			require.NoError(t, err)
			before, err := os.ReadDir(os.TempDir())
			require.NoError(t, err)
			for _, faults := range [][]string{nil, {"fail:Build/Synth"}} {
				res, err := Run(m, Options{Start: time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC), Faults: mustParse(t, faults)})
				require.NoError(t, err)
				assert.NotEmpty(t, res.Stages)
			}
			for _, suffix := range []string{"", ".id", ".sh"} {
				_, err := os.Stat(marker + suffix)
				assert.True(t, os.IsNotExist(err), "the simulator ran a command it read: %s exists", marker+suffix)
			}
			after, err := os.ReadDir(os.TempDir())
			require.NoError(t, err)
			assert.Equal(t, names(before), names(after), "the simulator wrote to the temporary directory")
		})
	}
}

func mustParse(t *testing.T, specs []string) []Fault {
	t.Helper()
	fs, err := ParseFaults(specs)
	require.NoError(t, err)
	return fs
}

func names(es []os.DirEntry) []string {
	var out []string
	for _, e := range es {
		if !strings.HasPrefix(e.Name(), "go-build") && !strings.HasPrefix(e.Name(), "Test") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestOpaqueActions: an action the simulator does not model succeeds (with
// a note that says it was not run), and fails where a fail fault says so;
// a fail fault on a modelled action or an unknown one is refused.
func TestOpaqueActions(t *testing.T) {
	m := load(t, "good")
	res, err := Run(m, Options{Start: monday})
	require.NoError(t, err)
	assert.Equal(t, ExitReached, res.ExitCode)
	assert.Contains(t, strings.Join(res.Notes, "\n"), "opaque (Build/Synth)")

	res, err = Run(m, Options{Start: monday, Faults: faults(t, "fail:Build/Synth")})
	require.NoError(t, err)
	assert.Equal(t, ExitStopped, res.ExitCode)
	assert.Contains(t, res.Summary, "the scenario fails it (fail:Build/Synth)")
	assert.Empty(t, res.Reached)

	for spec, want := range map[string]string{
		"fail:Build/Nope":                   `stage Build has no action "Nope" (actions: Synth)`,
		"fail:Nope/Synth":                   `stage "Nope" is not in the pipeline`,
		"fail:Prod-W1/eu-west-1.svc.Deploy": "is modelled by what it does",
	} {
		_, err := Run(m, Options{Start: monday, Faults: faults(t, spec)})
		assert.ErrorContains(t, err, want, spec)
	}
	for _, bad := range []string{"fail:Build", "fail:/Synth", "fail:Build/", "fail:Build/a b", "fail:B\x1b[2J/Synth"} {
		_, err := ParseFault(bad)
		assert.Error(t, err, bad)
	}
}

// TestLoadStaysInTheAssembly: a file of the assembly that is a symbolic
// link out of it is refused, not followed; a template path that is not a
// regular file is refused.
func TestLoadStaysInTheAssembly(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "outside.json")
	require.NoError(t, os.WriteFile(outside, []byte(`{"Resources":{}}`), 0o644))
	entries, err := os.ReadDir(filepath.Join("testdata", "good"))
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata", "good", e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644))
	}
	link := filepath.Join(dir, "svc-eu-west-1.template.json")
	require.NoError(t, os.Remove(link))
	require.NoError(t, os.Symlink(outside, link))
	_, err = Load(dir, Limits{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "escapes")

	_, err = Load(os.DevNull, Limits{})
	assert.ErrorContains(t, err, "not a regular file")

	// A file of the assembly that is a FIFO is refused, not opened (which
	// would block for ever).
	require.NoError(t, os.Remove(link))
	require.NoError(t, syscall.Mkfifo(link, 0o600))
	_, err = Load(dir, Limits{})
	assert.ErrorContains(t, err, "not a regular file")
}
