package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/twophase"
)

// rampWorld adds the ramp driver (rampDriverCode, run under Node.js as
// written) to the controller world: an alarm and the ramp's state
// parameter in moto.
type rampWorld struct {
	*controllerWorld
	steps string
}

const (
	rampAlarm = "orders-aggregate"
	rampState = "orders-live-ramp" // a name as CloudFormation generates it (no "/")
)

func newRampWorld(t *testing.T, steps []rampStep) *rampWorld {
	w := &rampWorld{controllerWorld: newControllerWorld(t)}
	b, err := json.Marshal(steps)
	require.NoError(t, err)
	w.steps = string(b)
	require.NoError(t, os.WriteFile(filepath.Join(w.dir, "ramp.js"), []byte(rampDriverCode), 0o644))
	w.python(fmt.Sprintf(`
import boto3
boto3.client("ssm").put_parameter(Name=%q, Value='{"status":"idle"}', Type="String")
boto3.client("cloudwatch").put_metric_alarm(AlarmName=%q, MetricName="Errors", Namespace="AWS/Lambda",
    Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
`, rampState, rampAlarm))
	w.setAlarm("OK")
	return w
}

func (w *rampWorld) python(code string) string {
	w.t.Helper()
	out, err := exec.Command("python3", "-c", code).CombinedOutput()
	require.NoError(w.t, err, "%s", out)
	return string(out)
}

func (w *rampWorld) setAlarm(state string) {
	w.t.Helper()
	w.python(fmt.Sprintf(`import boto3
boto3.client("cloudwatch").set_alarm_state(AlarmName=%q, StateValue=%q, StateReason="test")`, rampAlarm, state))
}

// deployRamp deploys version as the canary with the ramp's state.
func (w *rampWorld) deployRamp(version string) {
	w.t.Helper()
	r := w.requestWith("Update", map[string]any{"FunctionName": "orders", "AliasName": "live", "Version": version,
		"Mode": "canary", "Percent": "10", "RampState": rampState})
	require.Equal(w.t, "SUCCESS", r["Status"], "%v", r["Reason"])
}

// tick runs one tick of the driver as if at now.
func (w *rampWorld) tick(now time.Time) map[string]any {
	w.t.Helper()
	rec, recEnv := recordCalls(w.t, w.dir, actorRampDriver)
	cmd := exec.Command("node", append(rec, "-e", "require('./ramp.js').tick(Number(process.argv[1])).then(r=>console.log('RESULT '+JSON.stringify(r))).catch(e=>{console.error(e);process.exit(1)})",
		fmt.Sprint(now.UnixMilli()))...)
	cmd.Dir = w.dir
	cmd.Env = append(append(os.Environ(), "NODE_PATH="+w.nodePath, "FUNCTION_NAME=orders", "ALIAS_NAME=live",
		"ALARM_NAME="+rampAlarm, "STATE="+rampState, "STEPS="+w.steps), recEnv...)
	out, err := cmd.CombinedOutput()
	require.NoError(w.t, err, "%s", out)
	_, after, ok := strings.Cut(string(out), "RESULT ")
	require.True(w.t, ok, "%s", out)
	var r map[string]any
	require.NoError(w.t, json.Unmarshal([]byte(strings.TrimSpace(after)), &r), "%s", out)
	return r
}

func (w *rampWorld) state() map[string]any {
	w.t.Helper()
	out := w.python(fmt.Sprintf(`import boto3
print(boto3.client("ssm").get_parameter(Name=%q)["Parameter"]["Value"])`, rampState))
	var st map[string]any
	require.NoError(w.t, json.Unmarshal([]byte(out), &st), "%s", out)
	return st
}

// TestRampAgainstMoto takes a canary from 10% to 50% to 100% in one
// deployment, and shows what stops it: the alarm, a missing alarm, an alarm
// that recovered just now, and a person or a new deployment moving the
// alias.
func TestRampAgainstMoto(t *testing.T) {
	steps := []rampStep{{After: 3600, Percent: 50}, {After: 3600, Percent: 100}}
	w := newRampWorld(t, steps)
	w.deploy("Create", "1", "full")
	now := time.Now()

	// Nothing to do before a deployment starts a ramp.
	assert.Equal(t, "idle", w.tick(now)["status"])

	w.deployRamp("2")
	main, weights := w.alias()
	assert.Equal(t, "1", main)
	assert.Equal(t, map[string]float64{"2": 0.1}, weights)
	assert.Equal(t, "ramping", w.state()["status"])

	// The first hold is not over: nothing moves.
	assert.Equal(t, "holding", w.tick(now.Add(30 * time.Minute))["status"])
	_, weights = w.alias()
	assert.Equal(t, map[string]float64{"2": 0.1}, weights)

	// An hour with the alarm OK: 50%.
	assert.Equal(t, float64(50), w.tick(now.Add(61 * time.Minute))["percent"])
	main, weights = w.alias()
	assert.Equal(t, "1", main)
	assert.Equal(t, map[string]float64{"2": 0.5}, weights)

	// The next hold counts from that step, not from the deployment.
	assert.Equal(t, "holding", w.tick(now.Add(100 * time.Minute))["status"])
	r := w.tick(now.Add(122 * time.Minute))
	assert.Equal(t, "done", r["status"])
	main, weights = w.alias()
	assert.Equal(t, "2", main, "the last step makes the candidate the alias's version")
	assert.Empty(t, weights)
	assert.Equal(t, "done", w.tick(now.Add(200 * time.Minute))["status"], "a finished ramp stays finished")

	// The next release ramps, and its alarm fires: the candidate serves
	// nothing at the next tick, and the ramp stays halted.
	w.deployRamp("3")
	w.setAlarm("ALARM")
	r = w.tick(now.Add(201 * time.Minute))
	assert.Equal(t, "halted", r["status"])
	assert.Contains(t, r["reason"], "in ALARM")
	main, weights = w.alias()
	assert.Equal(t, "2", main, "the version live before the deployment serves alone")
	assert.Empty(t, weights)
	w.setAlarm("OK")
	assert.Equal(t, "halted", w.tick(now.Add(300 * time.Minute))["status"], "an alarm that recovers does not restart a halted ramp")
	main, _ = w.alias()
	assert.Equal(t, "2", main)

	// An alarm that fired and recovered between two ticks restarts the
	// hold: the driver counts from the alarm's last state change.
	w.deployRamp("3")
	w.setAlarm("ALARM")
	w.setAlarm("OK")
	st := w.state()
	st["since"] = now.Add(-3 * time.Hour).UTC().Format(time.RFC3339) // the step began long ago
	b, _ := json.Marshal(st)
	w.python(fmt.Sprintf(`import boto3
boto3.client("ssm").put_parameter(Name=%q, Value=%q, Type="String", Overwrite=True)`, rampState, string(b)))
	assert.Equal(t, "holding", w.tick(time.Now().Add(time.Minute))["status"], "the hold restarts when the alarm changed state")
	_, weights = w.alias()
	assert.Equal(t, map[string]float64{"3": 0.1}, weights)

	// A person moves the alias (or a new deployment does): the driver
	// stops and writes nothing.
	w.deploy("Update", "1", "full")
	before := w.state()
	assert.Equal(t, "superseded", w.tick(time.Now().Add(2 * time.Hour))["status"])
	main, weights = w.alias()
	assert.Equal(t, "1", main)
	assert.Empty(t, weights)
	assert.Equal(t, before, w.state())
}

// TestRampHaltsWithoutItsAlarm: an alarm that does not exist (a renamed or
// deleted alarm, a typo) halts the ramp, as it blocks a gate.
func TestRampHaltsWithoutItsAlarm(t *testing.T) {
	w := newRampWorld(t, []rampStep{{After: 300, Percent: 100}})
	w.deploy("Create", "1", "full")
	w.deployRamp("2")
	w.python(fmt.Sprintf(`import boto3
boto3.client("cloudwatch").delete_alarms(AlarmNames=[%q])`, rampAlarm))
	r := w.tick(time.Now().Add(time.Hour))
	assert.Equal(t, "halted", r["status"])
	assert.Contains(t, r["reason"], "does not exist")
	main, weights := w.alias()
	assert.Equal(t, "1", main)
	assert.Empty(t, weights)
}

func TestRampValidate(t *testing.T) {
	step := func(after time.Duration, pct int) RampStep { return RampStep{After: after, Percent: pct} }
	cases := []struct {
		name  string
		steps []RampStep
		first int
		want  []string // substrings; none means valid
	}{
		{"two steps", []RampStep{step(time.Hour, 50), step(time.Hour, 100)}, 10, nil},
		{"one step to 100", []RampStep{step(MinRampHold, 100)}, 10, nil},
		{"ends below 100", []RampStep{step(time.Hour, 50)}, 10, nil},
		{"no steps", nil, 10, []string{"Steps is empty"}},
		{"a hold too short", []RampStep{step(time.Minute, 50)}, 10, []string{"Steps[0].After is 1m0s; a step holds 5m0s to 336h0m0s"}},
		{"a hold too long", []RampStep{step(15*24*time.Hour, 50)}, 10, []string{"Steps[0].After is 360h0m0s"}},
		{"a fraction of a second", []RampStep{step(time.Hour+time.Millisecond, 50)}, 10, []string{"whole seconds"}},
		{"a step down", []RampStep{step(time.Hour, 50), step(time.Hour, 40)}, 10, []string{"Steps[1].Percent is 40; each step raises the share, above 50"}},
		{"a step at the first share", []RampStep{step(time.Hour, 10)}, 10, []string{"Steps[0].Percent is 10"}},
		{"over 100", []RampStep{step(time.Hour, 150)}, 10, []string{"Steps[0].Percent is 150"}},
		{"100 before the end", []RampStep{step(time.Hour, 100), step(time.Hour, 100)}, 10, []string{"Steps[0].Percent is 100 before the last step", "Steps[1].Percent is 100"}},
		{"every problem at once", []RampStep{step(0, 5), step(-time.Hour, 200)}, 10, []string{"Steps[0].After", "Steps[0].Percent", "Steps[1].After", "Steps[1].Percent"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &Ramp{Steps: c.steps, Alarm: nil}
			err := r.validate("Ramp", c.first)
			require.Error(t, err, "a ramp without an alarm is always an error")
			assert.Contains(t, err.Error(), "Ramp.Alarm is nil")
			msg := strings.ReplaceAll(err.Error(), "Ramp.Alarm is nil; a ramp that watches nothing cannot stop", "")
			if len(c.want) == 0 {
				assert.Empty(t, strings.TrimSpace(msg))
			}
			for _, w := range c.want {
				assert.Contains(t, msg, w)
			}
		})
	}
	r := Ramp{Steps: []RampStep{step(time.Hour, 50), step(90*time.Minute, 100)}}
	assert.Equal(t, 150*time.Minute, r.Duration())
}

// TestRampWithChangesIsRefused: a release that carries a two-phase change
// does not ramp, since only deployments write the ledger; the error says
// so at synth, with every other problem.
func TestRampWithChangesIsRefused(t *testing.T) {
	p := AliasControllerProps{AliasName: "live", Ledger: "orders-service", Mode: AliasCanary, Percent: 10,
		Ramp:    &Ramp{Steps: []RampStep{{After: time.Hour, Percent: 100}}},
		Changes: []twophase.Change{{Name: "order-record-v2", Phase: twophase.ChangePrepare}}}
	err := p.validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AliasControllerProps.Ramp is set with 1 Changes; a release that prepares or activates a two-phase change does not ramp")
	assert.Contains(t, err.Error(), "AliasControllerProps.Function is nil", "every problem at once")
	p.Changes = nil
	assert.NotContains(t, p.validate().Error(), "Changes")
}

// TestRampRollsBackAtOnce: after a ramp finished, a stage rollback
// redeploys the previous template — a ramped canary too — whose code
// CloudFormation publishes again under a new number (the fixture's version
// 4 has version 2's code). A canary would give it only its first share and
// leave the rolled-back code on the rest; the controller serves it alone.
// A release of other code still ramps.
func TestRampRollsBackAtOnce(t *testing.T) {
	w := newRampWorld(t, []rampStep{{After: 300, Percent: 100}})
	w.deploy("Create", "2", "full")
	w.deployRamp("3")
	st := w.state()
	assert.Equal(t, "2", st["live"])
	assert.NotEmpty(t, st["liveRelease"], "the ramp records the release (code and configuration) live before it")
	assert.Equal(t, "done", w.tick(time.Now().Add(10 * time.Minute))["status"])
	main, _ := w.alias()
	require.Equal(t, "3", main, "the ramp finished")

	w.deployRamp("4") // the rollback: version 2's code
	main, weights := w.alias()
	assert.Equal(t, "4", main, "the code live before the ramp serves alone")
	assert.Empty(t, weights)
	assert.Equal(t, "done", w.state()["status"], "and no ramp starts")

	w.deployRamp("1") // other code: a release, which ramps
	main, weights = w.alias()
	assert.Equal(t, "4", main)
	assert.Equal(t, map[string]float64{"1": 0.1}, weights)

	// A release with the code live before the ramp and another
	// configuration (an environment variable) is a release: it ramps.
	w.python(`
import boto3, io, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("index.js", "exports.h=async()=>1")
l = boto3.client("lambda")
l.update_function_configuration(FunctionName="orders", Environment={"Variables": {"FEATURE": "on"}})
l.update_function_code(FunctionName="orders", ZipFile=buf.getvalue())
print(l.publish_version(FunctionName="orders")["Version"])
`)
	w.deployRamp("4")                       // version 4 alone again (the ramp of 1 superseded)
	require.Equal(t, "4", first(w.alias())) // a rollback to 4's release: alone
	w.deployRamp("3")                       // a ramp from 4 …
	w.deployRamp("5")                       // … superseded by version 5: version 1's code, new configuration
	main, weights = w.alias()
	assert.Equal(t, "4", main, "version 5 is not the release live before the ramp (4): it ramps")
	assert.Equal(t, map[string]float64{"5": 0.1}, weights)
}

func first(s string, _ map[string]float64) string { return s }
