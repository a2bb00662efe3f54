package verify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRampOutlastsBake: the fixture's wave-1 regional stage bakes 12 h and
// its alias ramps over 13 h (SP038); a ramp that ends within the bake
// passes; one whose steps cannot be read is reported, not passed; and a
// one-box stage that ramps to 100% moves the region (SP037).
func TestRampOutlastsBake(t *testing.T) {
	const tpl = "assembly-Pipeline-Prod-W1-Regional/Service-us-east-1.template.json"
	const steps = `[{\"after\":43200,\"percent\":50},{\"after\":3600,\"percent\":100}]`
	for _, c := range []struct {
		name, steps, want string
	}{
		{"outlasts", steps, "ramps to 100% over 13h0m0s"},
		{"within the bake", `[{\"after\":3600,\"percent\":50},{\"after\":3600,\"percent\":100}]`, ""},
		{"a split that stays", `[{\"after\":86400,\"percent\":50}]`, ""},
		{"unreadable", `[{\"after\":3600,\"percent\":100},{\"after\":1}]`, "verify cannot tell when this region serves the new version alone"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyTree(t, filepath.Join("testdata", "assembly-fail-SP038"))
			path := filepath.Join(dir, tpl)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Contains(t, string(b), steps)
			require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(b), steps, c.steps, 1)), 0o644))
			got := rampFindings(t, dir)
			if c.want == "" {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			assert.Contains(t, got[0], c.want)
		})
	}
}

// copyTree copies a fixture directory into a temporary one.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	require.NoError(t, os.CopyFS(dst, os.DirFS(src)))
	return dst
}

// TestRampAgainstTheControllersBake: in a pipeline baked by safepipe's
// gate controller (bake actions configured in gates.json), the stage's
// bake is the controller's: a ramp within it passes, one beyond it is
// SP038 naming the controller's minutes. (A first version read only the
// stage's own rules and actions, saw a bake of 0 minutes and reported
// every ramped stage of a safepipe pipeline.)
func TestRampAgainstTheControllersBake(t *testing.T) {
	const tpl = "assembly-Pipeline-Prod-W1-Regional/Service-us-east-1.template.json"
	src, err := os.ReadFile(filepath.Join("testdata", "assembly-fail-SP038", tpl))
	require.NoError(t, err)
	var ramped map[string]any
	require.NoError(t, json.Unmarshal(src, &ramped))
	res := ramped["Resources"].(map[string]any)
	for _, c := range []struct {
		name, steps, want string
	}{
		{"within", `[{"after":3600,"percent":100}]`, ""},
		{"beyond", `[{"after":86400,"percent":50},{"after":86400,"percent":100}]`, "bakes 720 min, and alias controller RampedAlias ramps to 100% over 48h0m0s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyTree(t, filepath.Join("testdata", "assembly-gates"))
			path := filepath.Join(dir, tpl)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			var doc map[string]any
			require.NoError(t, json.Unmarshal(b, &doc))
			for _, id := range []string{"LiveRampState", "LiveRampDriver", "RampedAlias"} {
				doc["Resources"].(map[string]any)[id] = res[id]
			}
			doc["Resources"].(map[string]any)["LiveRampDriver"].(map[string]any)["Properties"].(map[string]any)["Environment"].(map[string]any)["Variables"].(map[string]any)["STEPS"] = c.steps
			out, err := json.Marshal(doc)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, out, 0o644))
			got := rampFindings(t, dir)
			if c.want == "" {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			assert.Contains(t, got[0], c.want)
		})
	}
}

// rampFindings are the SP038 messages of verify on dir.
func rampFindings(t *testing.T, dir string) []string {
	t.Helper()
	rep, err := Path(dir, nil)
	require.NoError(t, err)
	var got []string
	for _, f := range rep.Findings {
		if f.Rule == RuleRampOutlastsBake {
			got = append(got, f.Message)
		}
	}
	return got
}

// TestRampOnAMetricAlarm: a ramp whose alarm is a metric alarm can be held
// in INSUFFICIENT_DATA past any bake (a composite is in that state only
// right after it is created): SP038 whatever the bake; one on an alarm no
// stack creates is reported too.
func TestRampOnAMetricAlarm(t *testing.T) {
	const tpl = "assembly-Pipeline-Prod-W1-Regional/Service-us-east-1.template.json"
	for alarm, want := range map[string]string{
		"orders-api-fault-rate": "ramps on alarm orders-api-fault-rate, which is a metric alarm",
		"someone-elses-alarm":   "is not created by a stack of the input",
	} {
		t.Run(alarm, func(t *testing.T) {
			dir := copyTree(t, filepath.Join("testdata", "assembly-fail-SP038"))
			path := filepath.Join(dir, tpl)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			short := strings.Replace(string(b), `[{\"after\":43200,\"percent\":50},{\"after\":3600,\"percent\":100}]`, `[{\"after\":600,\"percent\":100}]`, 1)
			short = strings.Replace(short, `"ALARM_NAME": "orders-aggregate-rollback"`, `"ALARM_NAME": "`+alarm+`"`, 1)
			require.NotEqual(t, string(b), short)
			require.NoError(t, os.WriteFile(path, []byte(short), 0o644))
			got := rampFindings(t, dir)
			require.Len(t, got, 1, "the bake is long enough; the alarm is not")
			assert.Contains(t, got[0], want)
		})
	}
}
