package sim

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// monday is the default start of plan and simulate: Monday 2026-01-05 09:00
// in the fixtures' window zone (UTC).
var monday = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func load(t testing.TB, name string) *Model {
	t.Helper()
	a, err := Load(filepath.Join("testdata", name), Limits{})
	require.NoError(t, err)
	m, err := NewModel(a)
	require.NoError(t, err)
	return m
}

func faults(t testing.TB, specs ...string) []Fault {
	t.Helper()
	fs, err := ParseFaults(specs)
	require.NoError(t, err)
	return fs
}

// readings are every combination of the readings the documentation leaves
// open (Matrix); the safety properties must hold under each.
var readings, _ = Matrix(Options{}, nil)

func properties(res *Result) []string {
	var out []string
	for _, v := range res.Violations {
		if !slices.Contains(out, v.Property) {
			out = append(out, v.Property)
		}
	}
	return out
}

// happyUnderEveryReading runs m from monday under every reading, requires
// the change to reach every region, and hands each run to body (whose o
// can carry faults for further runs).
//
// Under the reading that a rule times out after 5 minutes, a stage that
// arrives while its entry is closed is refused: the change may stop there
// (exit 3), never with a violation.
func happyUnderEveryReading(t *testing.T, m *Model, body func(t *testing.T, o Options, res *Result)) {
	t.Helper()
	for _, o := range readings {
		t.Run(reading(o), func(t *testing.T) {
			o := o
			o.Start = monday
			res, err := Run(m, o)
			require.NoError(t, err)
			if o.RuleTimeout != RuleTimeoutNone && res.ExitCode == ExitStopped {
				assert.Empty(t, res.Violations)
				return
			}
			assert.Equal(t, ExitReached, res.ExitCode, "%s %v", res.Summary, res.Violations)
			body(t, o, res)
		})
	}
}

func reading(o Options) string {
	return string(o.RollbackConditions) + "/" + string(o.BakeWatch) + "/" + string(o.AlarmAtStart) + "/" + string(o.RuleTimeout)
}

// TestGoodPipeline: the correct fixture reaches every region on the happy
// path, and under every reading stops a fault in wave 2 without a
// violation, rolling back only wave 2.
func TestGoodPipeline(t *testing.T) {
	m := load(t, "good")
	happyUnderEveryReading(t, m, func(t *testing.T, o Options, res *Result) {
		assert.Equal(t, []string{"eu-central-1", "eu-west-1", "us-east-1"}, res.Reached)
		require.NotNil(t, res.TimeToGlobalHours)
		assert.Greater(t, *res.TimeToGlobalHours, 2.0, "a 1 h bake and two deploys before the last region")

		o.Faults = faults(t, "us-east-1:Prod-W2+45m")
		res, err := Run(m, o)
		require.NoError(t, err)
		assert.Equal(t, ExitStopped, res.ExitCode, "%s\n%v", res.Summary, res.Violations)
		assert.Equal(t, []string{"eu-west-1"}, res.Reached)
		assert.ElementsMatch(t, []string{"eu-central-1", "us-east-1"}, res.RolledBack)
		assert.Nil(t, res.TimeToGlobalHours)
	})
}

// TestDefects: each fixture reproduces a defect of issue 11 or 12, and the
// simulator reports it as the named property.
func TestDefects(t *testing.T) {
	cases := []struct {
		fixture string
		opts    Options
		faults  []string
		want    []string // properties violated
		detail  string   // in some violation's detail
	}{
		{"defect-onebox-canary-shifts-all", Options{}, nil, []string{PropOneBoxShare, PropNoOp}, "served 100% of the region's traffic"},
		{"defect-noop-identical-template", Options{}, nil, []string{PropNoOp}, "identical to what is deployed"},
		{"defect-holiday-blocker-rolls-back", Options{Start: time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC)}, nil, []string{PropStart}, "on a holiday"},
		{"defect-gate-watches-missing-alarm", Options{}, nil, []string{PropAlarmsExist}, `"svc-team-prod-aggregate-rollback"`},
		{"defect-alarm-name-collision", Options{}, nil, []string{PropUniqueNames}, `"svc-aggregate-rollback" is created by 2 stacks`},
		{"defect-rollback-gated-by-its-alarm", Options{}, []string{"eu-west-1:Prod-W1+45m"}, []string{PropContainment, PropRollbackCompletes}, "Blocker-eu-west-1: alarm svc-prod-aggregate-rollback is in ALARM"},
		{"defect-wave-without-bake", Options{}, nil, []string{PropWaveOrder}, "ended without a bake"},
		// The old gate design: the bake held by an OnSuccess alarm rule.
		// Under the reading that such a rule succeeds at once when its
		// alarm is OK (the rule reference's words for Entry conditions),
		// no stage bakes and the next wave starts at once.
		{"defect-bake-on-success-condition", Options{BakeWatch: BakeImmediate}, nil, []string{PropWaveOrder, PropBakeHolds}, "the stage baked 0 min of its 60 min"},
		// And under the other readings: the bake gate's alarm needs 2 of 3
		// one-minute datapoints and the rule waits the bake, so a breach in
		// the bake's last minute is never seen.
		{"defect-bake-on-success-condition", Options{}, []string{"eu-west-1:Prod-W1+100m"}, []string{PropContainment}, "during Prod-W1, yet 2 region(s) of Prod-W2 ran the new version"},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			o := c.opts
			if o.Start.IsZero() {
				o.Start = monday
			}
			o.Faults = faults(t, c.faults...)
			res, err := Run(load(t, c.fixture), o)
			require.NoError(t, err)
			assert.Equal(t, ExitViolated, res.ExitCode)
			assert.ElementsMatch(t, c.want, properties(res), "%v", res.Violations)
			var details []string
			for _, v := range res.Violations {
				details = append(details, v.Detail)
			}
			assert.Contains(t, strings.Join(details, "\n"), c.detail)
		})
	}
}

// TestRollbackThroughFiringAlarms: a stage rollback redeploys the previous
// version through the same CodeDeploy deployment group whose alarms fire;
// whether it completes depends on a reading the documentation leaves
// open (issue 12 #2).
func TestRollbackThroughFiringAlarms(t *testing.T) {
	m := load(t, "rollback-through-firing-alarms")
	// The fixture's Bake action is the old design's watch script, opaque
	// to the simulator: the scenario says it fails, as it did on the fault.
	for _, c := range []struct {
		reading Reading
		want    []string
	}{
		{AlarmAtStartStops, []string{PropContainment, PropRollbackCompletes}},
		{AlarmAtStartIgnored, nil},
	} {
		res, err := Run(m, Options{Start: monday, AlarmAtStart: c.reading, Faults: faults(t, "eu-west-1:Prod-W1+50m", "fail:Prod-W1/Bake")})
		require.NoError(t, err)
		assert.ElementsMatch(t, c.want, properties(res), "%s: %v", c.reading, res.Violations)
		if c.want != nil {
			assert.Contains(t, res.Violations[len(res.Violations)-1].Detail, "alarm svc-prod-api-fault-rate is in ALARM; the deployment stopped")
		} else {
			assert.Equal(t, []string{"eu-west-1"}, res.RolledBack)
		}
	}
}

// TestHappyPathGolden pins the whole JSON result of the correct fixture.
func TestHappyPathGolden(t *testing.T) {
	res, err := Run(load(t, "good"), Options{Start: monday, Faults: faults(t, "us-east-1:Prod-W2+45m")})
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, res.WriteJSON(&b))
	golden := filepath.Join("testdata", "good-fault-us-east-1.golden.json")
	if *update {
		require.NoError(t, os.WriteFile(golden, b.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), b.String())
}

// TestDeterministic: the same input gives byte-identical output.
func TestDeterministic(t *testing.T) {
	m := load(t, "defect-onebox-canary-shifts-all")
	var outs []string
	for range 3 {
		res, err := Run(m, Options{Start: monday, Faults: faults(t, "eu-west-1:Prod-W1-Regional+10m")})
		require.NoError(t, err)
		var b bytes.Buffer
		require.NoError(t, res.WriteJSON(&b))
		require.NoError(t, res.WriteHTML(&b))
		require.NoError(t, res.WriteText(&b))
		outs = append(outs, b.String())
	}
	assert.Equal(t, outs[0], outs[1])
	assert.Equal(t, outs[0], outs[2])
}

// TestEntryHeldByAlarmAndOrg: an alarm already firing holds the stage at
// its entry gate until it clears; an organisation freeze without end makes
// the entry gate refuse when its wait runs out; a holiday moves the start.
func TestEntryHeldByAlarmAndOrg(t *testing.T) {
	m := load(t, "good")
	base, err := Run(m, Options{Start: monday})
	require.NoError(t, err)
	start := func(res *Result, stage string) time.Time {
		for _, s := range res.Stages {
			if s.Name == stage && s.Execution == execStandard && s.Start != "" {
				tm, err := time.Parse(timeLayout, s.Start)
				require.NoError(t, err)
				return tm
			}
		}
		t.Fatalf("%s never started", stage)
		return time.Time{}
	}

	held, err := Run(m, Options{Start: monday, Faults: faults(t, "us-east-1@+0m~30h")})
	require.NoError(t, err)
	assert.Equal(t, ExitReached, held.ExitCode, "%v", held.Violations)
	assert.True(t, start(held, "Prod-W2").After(monday.Add(30*time.Hour)), "Prod-W2 waits for us-east-1's alarm to clear")
	assert.True(t, start(held, "Prod-W2").After(start(base, "Prod-W2")))

	frozen, err := Run(m, Options{Start: monday, Faults: faults(t, "org:Prod-W1+10m")})
	require.NoError(t, err)
	assert.Equal(t, ExitStopped, frozen.ExitCode, "%v", frozen.Violations)
	assert.Contains(t, frozen.Summary, "Prod-W2 (Refused")
	assert.Equal(t, []string{"eu-west-1"}, frozen.Reached)

	thaw, err := Run(m, Options{Start: monday, Faults: faults(t, "org:Prod-W1+10m~2d")})
	require.NoError(t, err)
	assert.Equal(t, ExitReached, thaw.ExitCode)

	// Wednesday 2026-12-23 14:30: Prod-W2 arrives after the window closed and
	// would start on Thursday the 24th, a
	// holiday, and the 25th is one too: it waits until Monday the 28th.
	xmas, err := Run(m, Options{Start: time.Date(2026, 12, 23, 14, 30, 0, 0, time.UTC)})
	require.NoError(t, err)
	assert.Equal(t, ExitReached, xmas.ExitCode, "%v", xmas.Violations)
	assert.Equal(t, time.Monday, start(xmas, "Prod-W2").Weekday())
}

func TestOptionsValidate(t *testing.T) {
	m := load(t, "good")
	_, err := Run(m, Options{})
	assert.ErrorContains(t, err, "Start is required")
	_, err = Run(m, Options{Start: monday, BakeWatch: "sometimes", MaxDays: 1000})
	assert.ErrorContains(t, err, `onsuccess-alarm "sometimes": want one of continuous, at-end, immediate`)
	assert.ErrorContains(t, err, "max days 1000")
	_, err = Run(m, Options{Start: monday, Faults: faults(t, "eu-west-1:Prod-W9+1m", "ap-south-1:Prod-W1+1m", "nope@eu-west-1:Prod-W1+1m")})
	assert.ErrorContains(t, err, `stage "Prod-W9" is not in the pipeline`)
	assert.ErrorContains(t, err, "stage Prod-W1 does not deploy to ap-south-1")
	assert.ErrorContains(t, err, `no stack creates an alarm named "nope"`)
}

// TestECSRolling: ECS rolls the service with its deployment alarm; a fault
// before the deployment (ignored by ECS, as documented, then caught by the
// bake) and one during it (ECS rolls back) both end rolled back, under
// every reading.
func TestECSRolling(t *testing.T) {
	m := load(t, "ecs-rolling")
	happyUnderEveryReading(t, m, func(t *testing.T, o Options, res *Result) {
		for _, spec := range []string{"eu-west-1:Prod-W1+10m", "eu-west-1:Prod-W1+45m", "us-east-1:Prod-W2+35m"} {
			o.Faults = faults(t, spec)
			res, err := Run(m, o)
			require.NoError(t, err)
			assert.Equal(t, ExitStopped, res.ExitCode, "%s: %s %v", spec, res.Summary, res.Violations)
			assert.Contains(t, res.RolledBack, strings.SplitN(spec, ":", 2)[0], spec)
		}
	})
}

// TestEC2ServerDeploy: the production stages deploy an EC2 stack (its
// CodeDeploy application and deployment groups) and then run safepipe's
// server deploy action (a CodeBuild action calling create-deployment on the
// group its environment names). The change reaches every region; a fault
// on a region's aggregate during the group's deployment stops it (the
// group's alarm), CodeDeploy rolls the instances back, the action fails,
// the stage rolls back and the change is contained, under every reading.
func TestEC2ServerDeploy(t *testing.T) {
	m := load(t, "ec2-server")
	happyUnderEveryReading(t, m, func(t *testing.T, o Options, res *Result) {
		assert.Equal(t, []string{"eu-west-1", "us-east-1"}, res.Reached)
		for _, tc := range []struct {
			spec, region string
			ran          bool // an instance served the new version before the stop
		}{
			// The one-box group's only batch is in flight: stopped
			// before the instance serves the new version.
			{"eu-west-1:Prod-W1+4m", "eu-west-1", false},
			// The one-box serves it and the fleet group is deploying.
			{"eu-west-1:Prod-W1+15m", "eu-west-1", true},
			{"us-east-1:Prod-W2+12m", "us-east-1", true},
		} {
			o.Faults = faults(t, tc.spec)
			res, err := Run(m, o)
			require.NoError(t, err)
			assert.Equal(t, ExitStopped, res.ExitCode, "%s: %s %v", tc.spec, res.Summary, res.Violations)
			assert.Empty(t, res.Violations, tc.spec)
			assert.Equal(t, tc.ran, slices.Contains(res.RolledBack, tc.region), "%s: rolled back %v", tc.spec, res.RolledBack)
			assert.NotContains(t, res.Reached, tc.region, tc.spec)
			if tc.region == "eu-west-1" {
				assert.NotContains(t, res.BlastRadius, "us-east-1", "%s: the change must not leave the first wave", tc.spec)
			}
		}
	})
}

// TestEC2ServerDeployUnmodelled: a server deploy action the simulator
// cannot resolve fails, with a note naming why; it never passes as a
// success.
func TestEC2ServerDeployUnmodelled(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new, note string
	}{
		{"unreadable environment", "pipeline.template.json", `"EnvironmentVariables": "[`, `"EnvironmentVariables": "[[`, "EnvironmentVariables"},
		{"trailing data", "pipeline.template.json", `\"Prod-W1\"}]"`, `\"Prod-W1\"}] []"`, "trailing data"},
		{"secret value", "pipeline.template.json", `{\"name\":\"SAFEPIPE_BUCKET\",\"type\":\"PLAINTEXT\"`, `{\"name\":\"SAFEPIPE_BUCKET\",\"type\":\"SECRETS_MANAGER\"`, "SECRETS_MANAGER"},
		{"unknown group", "pipeline.template.json", `\"value\":\"svc-prod-onebox\"`, `\"value\":\"svc-prod-twobox\"`, `creates the deployment group "svc-prod-twobox"`},
		{"unknown configuration", "svc-eu-west-1.template.json", `"CodeDeployDefault.OneAtATime"`, `"Custom.TenAtATime"`, `"Custom.TenAtATime" is not one the simulator knows`},
		{"tag-selected instances", "svc-eu-west-1.template.json", `"AutoScalingGroups": [`, `"Ec2TagFilters": [{"Key": "app", "Type": "KEY_ONLY"}], "AutoScalingGroups": [`, "Ec2TagFilters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join("testdata", "ec2-server")
			entries, err := os.ReadDir(src)
			require.NoError(t, err)
			for _, e := range entries {
				b, err := os.ReadFile(filepath.Join(src, e.Name()))
				require.NoError(t, err)
				if e.Name() == tc.file {
					require.Contains(t, string(b), tc.old)
					b = []byte(strings.Replace(string(b), tc.old, tc.new, 1))
				}
				require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600))
			}
			a, err := Load(dir, Limits{})
			require.NoError(t, err)
			m, err := NewModel(a)
			require.NoError(t, err)
			res, err := Run(m, Options{Start: monday})
			require.NoError(t, err)
			assert.NotEqual(t, ExitReached, res.ExitCode, res.Summary)
			assert.NotContains(t, res.Reached, "eu-west-1")
			found := false
			for _, n := range res.Notes {
				if strings.Contains(n, "is not modelled") && strings.Contains(n, tc.note) {
					found = true
				}
			}
			assert.True(t, found, "no note about %q in %v", tc.note, res.Notes)
		})
	}
}

// TestEC2OneBoxStageKept: the shape of the zonal example — the one-box
// group deployed by a stage of its own, the fleet group by the next — lets
// a fault in the fleet's stage roll back only that stage: the one-box
// instance keeps serving the change (fault-containment), under every
// reading; the happy path reaches every region.
func TestEC2OneBoxStageKept(t *testing.T) {
	m := load(t, "defect-ec2-onebox-stage-kept")
	happyUnderEveryReading(t, m, func(t *testing.T, o Options, res *Result) {
		o.Faults = faults(t, "eu-west-1:Prod-W1+10m")
		res, err := Run(m, o)
		require.NoError(t, err)
		assert.Equal(t, ExitViolated, res.ExitCode, res.Summary)
		assert.Equal(t, []string{PropContainment}, properties(res))
		assert.NotContains(t, res.BlastRadius, "us-east-1")
	})
}

// TestBakeActionHoldsUnderEveryReading: the bake held by an action of the
// stage (package gates, bake.go) sees a breach in the bake's last minute,
// which the old OnSuccess rule missed, and holds for its whole duration
// whatever the readings: the wave-2 stage starts only after Prod-W1's 60
// minutes.
func TestBakeActionHoldsUnderEveryReading(t *testing.T) {
	m := load(t, "good")
	for _, o := range readings {
		t.Run(reading(o), func(t *testing.T) {
			o.Start = monday
			o.Faults = faults(t, "eu-west-1:Prod-W1+100m")
			res, err := Run(m, o)
			require.NoError(t, err)
			assert.Equal(t, ExitStopped, res.ExitCode, "%s %v", res.Summary, res.Violations)
			assert.Contains(t, res.Summary, "Bake: bake breached")
			assert.Equal(t, []string{"eu-west-1"}, res.RolledBack)

			o.Faults = nil
			res, err = Run(m, o)
			require.NoError(t, err)
			assert.Empty(t, res.Violations)
			w1, w2 := start(res, "Prod-W1"), start(res, "Prod-W2")
			if !w2.IsZero() {
				assert.GreaterOrEqual(t, w2.Sub(w1), 60*time.Minute+30*time.Minute, "Prod-W2 starts after Prod-W1's deploy and its whole bake")
			}
		})
	}
}

// TestControllerOutage: while the gate controller is down, entry gates
// stay closed (their alarms treat missing data as breaching) and a bake
// neither passes nor fails: when the controller returns, the bake reads
// the alarms' history over the outage, so a short outage costs nothing.
// The function replies every ten minutes; an outage that leaves the action
// without a reply for 20 minutes (ten to twenty minutes of outage) times
// it out ("If the Lambda
// function has sent no reply after 20 minutes, the action times out",
// CodePipeline quotas), which rolls the stage back; if CodePipeline
// evaluates entry conditions for rollback executions (Q5), that rollback
// waits at the closed entry until the controller returns or an operator
// overrides the condition (README: overriding a gate).
func TestControllerOutage(t *testing.T) {
	m := load(t, "good")
	normal, err := Run(m, Options{Start: monday})
	require.NoError(t, err)
	short, err := Run(m, Options{Start: monday, Faults: faults(t, "controller:Prod-W1+60m~8m")})
	require.NoError(t, err)
	assert.Equal(t, ExitReached, short.ExitCode, "%s %v", short.Summary, short.Violations)
	assert.Equal(t, normal.End, short.End, "the bake reads the history over a short outage")

	skipped, err := Run(m, Options{Start: monday, RollbackConditions: RollbackConditionsSkipped, Faults: faults(t, "controller:Prod-W1+60m~30m")})
	require.NoError(t, err)
	assert.Equal(t, ExitStopped, skipped.ExitCode, "%s %v", skipped.Summary, skipped.Violations)
	assert.Contains(t, skipped.Summary, "the controller sent no reply for 20 minutes")
	assert.Equal(t, []string{"eu-west-1"}, skipped.RolledBack)

	evaluated, err := Run(m, Options{Start: monday, Faults: faults(t, "controller:Prod-W1+60m~30m")})
	require.NoError(t, err)
	assert.Equal(t, []string{PropRollbackCompletes}, properties(evaluated), "the rollback waits at the closed entry for the controller")
	assert.Contains(t, evaluated.Violations[0].Detail, "SafepipeEntryGate")

	entry, err := Run(m, Options{Start: monday, Faults: faults(t, "controller@+0m~3h")})
	require.NoError(t, err)
	assert.Empty(t, entry.Violations)
	assert.GreaterOrEqual(t, start(entry, "Prod-W1").Sub(monday), 3*time.Hour, "no gated stage enters while the controller is down")

	_, err = ParseFault("controller@+5m")
	assert.ErrorContains(t, err, "a controller fault needs ~HOLD")
}

// start is when a stage's standard execution started (zero if it never
// did).
func start(res *Result, stage string) time.Time {
	for _, s := range res.Stages {
		if s.Name == stage && s.Execution == execStandard && s.Start != "" {
			if tm, err := time.Parse(timeLayout, s.Start); err == nil {
				return tm
			}
		}
	}
	return time.Time{}
}

// TestStructureChange: after a change of the pipeline's definition no
// stage can roll back until an execution of the new structure version has
// passed it. The controller keeps the production entries closed for the
// change (it never starts); an operator's override lets it into a stage,
// where a fault cannot be rolled back — fault-containment fails, which is
// what the closed entry prevents. The bake still holds an overridden
// stage.
func TestStructureChange(t *testing.T) {
	m := load(t, "good")
	held, err := Run(m, Options{Start: monday, StructureChanged: true, MaxDays: 3})
	require.NoError(t, err)
	assert.Empty(t, held.Reached, "no production stage starts without a rollback target")
	assert.Empty(t, held.Violations)
	var w1 StageResult
	for _, s := range held.Stages {
		if s.Name == "Prod-W1" {
			w1 = s
		}
	}
	assert.NotEqual(t, "Succeeded", w1.Result)

	over, err := Run(m, Options{Start: monday, StructureChanged: true, Overrides: []string{"Prod-W1", "Prod-W2"}})
	require.NoError(t, err)
	assert.Equal(t, ExitReached, over.ExitCode, "%s %v", over.Summary, over.Violations)
	assert.Empty(t, over.Violations)
	assert.GreaterOrEqual(t, start(over, "Prod-W2").Sub(start(over, "Prod-W1")), 90*time.Minute, "the overridden stage still bakes")

	bad, err := Run(m, Options{Start: monday, StructureChanged: true, Overrides: []string{"Prod-W1"}, Faults: faults(t, "eu-west-1:Prod-W1+45m")})
	require.NoError(t, err)
	assert.Contains(t, properties(bad), PropContainment, "the stage cannot roll back: %s", bad.Summary)
	assert.Contains(t, bad.Summary, "no execution of the current pipeline structure version to roll back to")

	_, err = Run(m, Options{Start: monday, Overrides: []string{"Nope", "Build"}})
	assert.ErrorContains(t, err, `override "Nope": no such stage`)
	assert.ErrorContains(t, err, `override "Build": the stage has no entry condition`)
}

// TestBadVersion: a change bad from a stage on is stopped by the first
// alarm that watches it, and contained; the fault spec needs no region or
// alarm, so it applies to pipelines nobody here wrote.
func TestBadVersion(t *testing.T) {
	m := load(t, "good")
	res, err := Run(m, Options{Start: monday, Faults: faults(t, "bad:Prod-W1")})
	require.NoError(t, err)
	assert.Empty(t, res.Violations)
	assert.Equal(t, ExitStopped, res.ExitCode, res.Summary)
	assert.Contains(t, res.Summary, "the change stopped at Prod-W1")
	require.Len(t, res.Faults, 1)
	assert.Equal(t, "the change (bad from Prod-W1 on)", res.Faults[0].Alarm)
	assert.NotEmpty(t, res.Faults[0].Fired)

	_, err = ParseFault("bad:not a stage")
	assert.ErrorContains(t, err, "is not a stage name")
}

// TestLatentBadVersion: a latent bad change (bad:STAGE+LATENCY) shows
// only once it has served for its latency: a bake at least that long holds
// it in the stage; a longer latency gets past the bake into the next wave,
// which the run reports. A latent change in a pipeline that has finished
// still shows: the run goes on until it has.
func TestLatentBadVersion(t *testing.T) {
	m := load(t, "good") // Prod-W1 bakes 60 min
	res, err := Run(m, Options{Start: monday, Faults: faults(t, "bad:Prod-W1+25m")})
	require.NoError(t, err)
	assert.Empty(t, res.Violations)
	assert.Equal(t, ExitStopped, res.ExitCode, res.Summary)
	assert.Contains(t, res.Summary, "the change stopped at Prod-W1")

	res, err = Run(m, Options{Start: monday, Faults: faults(t, "bad:Prod-W1+90m")})
	require.NoError(t, err)
	assert.Contains(t, properties(res), PropContainment, "the 60-minute bake passed before the change showed: %s", res.Summary)
	assert.Contains(t, res.BlastRadius, "us-east-1")

	f, err := ParseFault("bad:Prod-W1+2h")
	require.NoError(t, err)
	assert.Equal(t, Fault{Spec: "bad:Prod-W1+2h", Stage: "Prod-W1", Bad: true, After: 2 * time.Hour}, f)
	for _, bad := range []string{"bad:Prod-W1+", "bad:Prod-W1+0m", "bad:Prod-W1+soon"} {
		_, err := ParseFault(bad)
		assert.ErrorContains(t, err, "latency", bad)
	}
}

// TestCodeDeploysProduction: a stage named for production that deploys
// only through a build (sam deploy, kubectl) deploys where the build runs,
// as verify reads it (model.OpaqueDeploy): a bad change there is not
// contained by a pipeline that watches nothing, and a latent one that
// shows after the pipeline finished is still seen.
func TestCodeDeploysProduction(t *testing.T) {
	for _, spec := range []string{"bad:DeployProdStage", "bad:DeployProdStage+25m"} {
		f, err := os.Open("../verify/testdata/real/sam-pipeline-two-stage.template.json")
		require.NoError(t, err)
		a, err := ReadTemplate(f, "sam-pipeline-two-stage.template.json", Limits{})
		f.Close()
		require.NoError(t, err)
		m, err := NewModel(a)
		require.NoError(t, err)
		var prod []string
		for _, st := range m.Pipeline.Stages {
			if st.Production {
				prod = append(prod, st.Name)
			}
		}
		assert.Equal(t, []string{"DeployProdStage"}, prod)
		res, err := Run(m, Options{Start: monday, Faults: faults(t, spec)})
		require.NoError(t, err)
		assert.Contains(t, properties(res), PropContainment, "%s: %s", spec, res.Summary)
		assert.NotEmpty(t, res.Faults[0].Fired, spec)
	}
}

// TestBadFromALaterStage: a change bad from a stage on is bad where that
// stage makes it serve, not where an earlier stage already did (the
// region's one-box, for a fault from the regional stage on).
func TestBadFromALaterStage(t *testing.T) {
	m := load(t, "defect-onebox-canary-shifts-all") // Prod-W1-OneBox, then Prod-W1-Regional, in eu-west-1
	for _, spec := range []string{"bad:Prod-W1-Regional", "bad:Prod-W1-Regional+20m"} {
		res, err := Run(m, Options{Start: monday, Faults: faults(t, spec)})
		require.NoError(t, err)
		require.Len(t, res.Faults, 1)
		assert.Equal(t, "Prod-W1-Regional", res.Faults[0].During, "%s: %s", spec, res.Summary)
		assert.Contains(t, res.Summary, "the change stopped at Prod-W1-Regional", spec)
	}
}

// TestZonalRegionRollback: the shape of defect-ec2-onebox-stage-kept with
// the gate controller told that Prod-W1 takes the one-box stage back with
// it (gates.Stage.RollsBack): after Prod-W1's rollback the controller
// rolls Prod-W1-OneBox back too, and the fault is contained under every
// reading. Without it (the defect fixture) the one-box keeps the change.
func TestZonalRegionRollback(t *testing.T) {
	m := load(t, "zonal-region-rollback")
	happyUnderEveryReading(t, m, func(t *testing.T, o Options, res *Result) {
		o.Faults = faults(t, "eu-west-1:Prod-W1+10m")
		res, err := Run(m, o)
		require.NoError(t, err)
		assert.Empty(t, res.Violations, o.Readings())
		assert.Equal(t, ExitStopped, res.ExitCode, res.Summary)
		var rolled []string
		for _, s := range res.Stages {
			if s.Execution == "ROLLBACK" {
				rolled = append(rolled, s.Name+"="+s.Result)
			}
		}
		assert.Equal(t, []string{"Prod-W1=Succeeded", "Prod-W1-OneBox=Succeeded"}, rolled)
		assert.Contains(t, fmt.Sprint(res.Events), "the gate controller rolls the stage back to exec-before")
	})
}

// TestLambdaRamp: safepipe's ramped alias (the regional step of
// deploy.LambdaProps.Ramp) takes each region from 10% to 50% to 100% on
// its driver's clock, and the change reaches every region (before the
// ramp was modelled, the canary stayed at 10% and no region was reached).
// A fault during the ramp halts it (the new version serves nothing) and
// the stage rolls back; a fault after it finished rolls the stage back to
// the old version alone. Under every reading.
func TestLambdaRamp(t *testing.T) {
	m := load(t, "lambda-ramp")
	shares := func(res *Result, region string) []float64 {
		var out []float64
		for _, rr := range res.Regions {
			if rr.Region == region {
				for _, p := range rr.Share {
					out = append(out, p.Share)
				}
			}
		}
		return out
	}
	happyUnderEveryReading(t, m, func(t *testing.T, o Options, res *Result) {
		assert.Equal(t, []string{"eu-central-1", "eu-west-1", "us-east-1"}, res.Reached)
		assert.Equal(t, []float64{0, 0.1, 0.5, 1}, shares(res, "eu-west-1"))
		for _, c := range []struct {
			fault string
			event string
		}{
			{"eu-west-1:Prod-W1+35m", "ramp of svc (333333333333/eu-west-1) halted: alarm svc-prod-aggregate-rollback is in ALARM"},
			{"eu-west-1:Prod-W1+80m", "the version live before the ramp serves alone again"},
		} {
			o.Faults = faults(t, c.fault)
			res, err := Run(m, o)
			require.NoError(t, err)
			assert.Empty(t, res.Violations, c.fault)
			assert.Equal(t, ExitStopped, res.ExitCode, res.Summary)
			sh := shares(res, "eu-west-1")
			assert.Equal(t, 0.0, sh[len(sh)-1], "%s: the region ends on the old version alone: %v", c.fault, sh)
			assert.Contains(t, fmt.Sprint(res.Events), c.event)
		}
	})
}
