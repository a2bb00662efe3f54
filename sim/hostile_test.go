package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mutated copies a fixture with one textual replacement in one file.
func mutated(t *testing.T, fixture, file, old, new string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("testdata", fixture)
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		if e.Name() == file {
			require.Contains(t, string(b), old)
			b = []byte(strings.Replace(string(b), old, new, 1))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600))
	}
	return dir
}

// TestHostileNumbers: numbers a template gives are range-checked against
// the services' documented limits before the simulator uses them (it
// allocated per evaluation period, so 2^31 ran it out of memory; a WaitTime
// past time.Duration's range made a bake of 0 minutes; a RunOrder of
// MaxInt never ran the stage's deploys); a pipeline CodePipeline would
// refuse is refused. Each answers within a second and a few megabytes,
// naming the field and the value.
func TestHostileNumbers(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new, want string
	}{
		{"EvaluationPeriods 2^31", "svc-eu-central-1.template.json", `"EvaluationPeriods": 3`, `"EvaluationPeriods": 2147483647`, `alarm FaultRate: EvaluationPeriods "2147483647" is not a whole number from 1 to 604800`},
		{"a day and a minute", "svc-eu-central-1.template.json", `"EvaluationPeriods": 3`, `"EvaluationPeriods": 1441`, "alarm FaultRate: Period 60 × EvaluationPeriods 1441 is more than a day"},
		{"Period 45", "svc-eu-central-1.template.json", `"Period": 60`, `"Period": 45`, "Period 45 is not 10, 20, 30 or a multiple of 60"},
		{"WaitTime past time.Duration", "pipeline.template.json", `"WaitTime": "8220"`, `"WaitTime": "200000000"`, `WaitTime "200000000" is not a whole number from 0 to 86400`},
		{"RunOrder MaxInt", "pipeline.template.json", `"RunOrder": 1`, `"RunOrder": 9223372036854775807`, "RunOrder"},
		{"a stage name twice", "pipeline.template.json", `"Name": "Prod-W2"`, `"Name": "Prod-W1"`, "stage name Prod-W1 is used twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := mutated(t, "good", tc.file, tc.old, tc.new)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			a, err := Load(dir, Limits{})
			if err == nil {
				_, err = NewModel(a)
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Less(t, elapsed, 2*time.Second)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(200<<20), "bytes allocated")
		})
	}
}

// TestDeepCompositeChain: composites are ordered children first however
// deep they nest (the order was recursive and stopped at 64, so the rest
// of a 200-deep chain was never evaluated and a child's ALARM never
// reached the top).
func TestDeepCompositeChain(t *testing.T) {
	m := &Model{Alarms: map[AlarmKey]*AlarmDef{}}
	place := Place{"1", "r"}
	leaf := AlarmKey{"1", "r", "leaf"}
	m.Alarms[leaf] = &AlarmDef{Key: leaf, Period: 60, EvaluationPeriods: 1, DatapointsToAlarm: 1}
	prev := "leaf"
	for i := range 200 {
		name := fmt.Sprintf("c%03d", i)
		k := AlarmKey{"1", "r", name}
		rule, err := parseAlarmRule(fmt.Sprintf("ALARM(%s)", prev), place)
		require.NoError(t, err)
		m.Alarms[k] = &AlarmDef{Key: k, Composite: true, Rule: rule}
		prev = name
	}
	w := &world{alarms: map[AlarmKey]*alarmState{}}
	for k, d := range m.Alarms {
		w.alarms[k] = &alarmState{key: k, def: d, external: true, state: stateOK}
	}
	w.orderComposites()
	require.Len(t, w.comps, 200, "every composite is evaluated")
	for i, a := range w.comps {
		assert.Equal(t, fmt.Sprintf("c%03d", i), a.key.Name, "children first")
	}
	w.alarms[leaf].state = stateAlarm
	w.evalComposites()
	assert.Equal(t, stateAlarm, w.alarms[AlarmKey{"1", "r", "c199"}].state, "the leaf's ALARM reaches the top")
}

// TestConditionalPipeline: the simulator reads Fn::If around stages with
// the parameters' defaults, as verify does.
func TestConditionalPipeline(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "verify", "testdata", "pass", "conditional-stages.template.json"))
	require.NoError(t, err)
	defer f.Close()
	a, err := ReadTemplate(f, "conditional-stages.template.json", Limits{})
	require.NoError(t, err)
	m, err := NewModel(a)
	require.NoError(t, err)
	assert.Equal(t, "V2", m.Pipeline.Type)
	require.Len(t, m.Pipeline.Stages, 2)
	assert.Equal(t, "Test", m.Pipeline.Stages[1].Name)
}
