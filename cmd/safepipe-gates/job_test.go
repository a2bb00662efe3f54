package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/gates"
)

// fakeCW is CloudWatch with fixed alarm states and history.
type fakeCW struct {
	states  map[string]cwtypes.StateValue
	history []cwtypes.AlarmHistoryItem
	err     error
	put     *[]cwtypes.MetricDatum
}

func (f fakeCW) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	out := &cloudwatch.DescribeAlarmsOutput{}
	for _, n := range in.AlarmNames {
		if s, ok := f.states[n]; ok {
			out.CompositeAlarms = append(out.CompositeAlarms, cwtypes.CompositeAlarm{AlarmName: aws.String(n), StateValue: s})
		}
	}
	return out, nil
}

func (f fakeCW) DescribeAlarmHistory(ctx context.Context, in *cloudwatch.DescribeAlarmHistoryInput, o ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmHistoryOutput, error) {
	return withHistory{items: f.history}.DescribeAlarmHistory(ctx, in, o...)
}

func (f fakeCW) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	if f.put != nil {
		*f.put = append(*f.put, in.MetricData...)
	}
	return &cloudwatch.PutMetricDataOutput{}, nil
}

// fakeCFN says every stack exists (CREATE_COMPLETE) unless listed.
type fakeCFN struct {
	status map[string]cfntypes.StackStatus
}

func (f fakeCFN) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	st, ok := f.status[aws.ToString(in.StackName)]
	if !ok {
		st = cfntypes.StackStatusCreateComplete
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{{StackName: in.StackName, StackStatus: st}}}, nil
}

// fakeClock advances only when the job waits.
type fakeClock struct {
	t     time.Time
	waits int
}

func (c *fakeClock) clock() clock {
	return clock{now: func() time.Time { return c.t }, wait: func(_ context.Context, t time.Time) bool {
		c.waits++
		c.t = t
		return true
	}}
}

const jobAcct = "333333333333"

func jobConfig() *gates.Config {
	a := func(region, name string) gates.Alarm {
		return gates.Alarm{Account: jobAcct, Region: region, Role: "arn:aws:iam::333333333333:role/safepipe-watch-p", Name: name, Stack: "svc"}
	}
	return &gates.Config{Version: gates.Version, Pipeline: "p",
		Window: gates.Window{TimeZone: "UTC", Days: []string{"MON"}, StartHour: 9, EndHour: 16},
		Stages: []gates.Stage{{Name: "Prod-W1", Window: true, BakeMinutes: 60, BakeAction: true,
			Blockers: []gates.Alarm{a("eu-west-1", "svc-prod-aggregate-rollback")},
			Bake:     []gates.Alarm{a("eu-west-1", "svc-prod-bake"), a("us-east-1", "svc-prod-bake")}}}}
}

func jobEventJSON(t *testing.T, id, params, token string) json.RawMessage {
	t.Helper()
	ev := map[string]any{"CodePipeline.job": map[string]any{"id": id, "accountId": "111111111111", "data": map[string]any{
		"actionConfiguration": map[string]any{"configuration": map[string]any{"FunctionName": "gates", "UserParameters": params}},
		"continuationToken":   token, "inputArtifacts": []any{}, "outputArtifacts": []any{},
	}}}
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return b
}

// bakeRecord is CodePipeline's record of a bake action of execution e1
// in Prod-W1 that started at start.
func bakeRecord(name string, start time.Time) cptypes.ActionExecutionDetail {
	return cptypes.ActionExecutionDetail{StageName: aws.String("Prod-W1"), ActionName: aws.String(name), PipelineExecutionId: aws.String("e1"),
		StartTime: aws.Time(start), Status: cptypes.ActionExecutionStatusInProgress, PipelineVersion: aws.Int32(7)}
}

// TestBakeJob: the bake action's replies. It watches for jobWatch and
// replies "in progress"; it succeeds once the bake — from the start
// CodePipeline recorded for the action, not the invocation's — has
// elapsed with every alarm OK, fails on a breach, succeeds at once in a
// rollback execution, keeps waiting (never succeeding) on what it cannot
// read, and fails a job whose parameters do not read.
func TestBakeJob(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 10, 0, 30, 0, time.UTC)
	params := `{"stage":"Prod-W1","part":1,"parts":1,"minutes":60}`
	forged, _ := json.Marshal(bakeToken{Version: 1, Start: t0.Add(-100 * time.Hour).Format(time.RFC3339)})
	ok := map[string]cwtypes.StateValue{"svc-prod-bake": cwtypes.StateValueOk, "svc-prod-aggregate-rollback": cwtypes.StateValueOk}
	cases := []struct {
		name     string
		params   string
		token    string
		started  time.Time // CodePipeline's start of the Bake action (zero: not recorded)
		cw       fakeCW
		rollback bool
		want     string // the reply's prefix and a part of it
		part     string
		waits    int
	}{
		{name: "a new bake watches, then replies in progress", params: params, started: t0, cw: fakeCW{states: ok},
			want: "success job-1 token={", part: "safepipe bake of Prod-W1: 9 of 60 min", waits: 10},
		{name: "a bake that has elapsed succeeds", params: params, started: t0.Add(-61 * time.Minute), cw: fakeCW{states: ok},
			want: "success job-1 token=:", part: "passed: 60 min with every watched alarm OK"},
		{name: "the end of the bake comes during the watch", params: params, started: t0.Add(-55 * time.Minute), cw: fakeCW{states: ok},
			want: "success job-1 token=:", part: "passed", waits: 6},
		{name: "a forged token does not shorten the bake", params: params, token: string(forged), started: t0, cw: fakeCW{states: ok},
			want: "success job-1 token={", part: "9 of 60 min", waits: 10},
		{name: "a breach fails it", params: params, started: t0, cw: fakeCW{states: map[string]cwtypes.StateValue{"svc-prod-bake": cwtypes.StateValueAlarm}},
			want: "failure job-1:", part: "is in ALARM"},
		{name: "a blip in the history fails it", params: params, started: t0.Add(-30 * time.Minute),
			cw:   fakeCW{states: ok, history: []cwtypes.AlarmHistoryItem{stateUpdate("svc-prod-bake", t0.Add(-10*time.Minute), "OK", "ALARM"), stateUpdate("svc-prod-bake", t0.Add(-9*time.Minute), "ALARM", "OK")}},
			want: "failure job-1:", part: "was in ALARM"},
		{name: "unreadable alarms keep it waiting, past its end", params: params, started: t0.Add(-120 * time.Minute), cw: fakeCW{err: fmt.Errorf("AccessDenied")},
			want: "success job-1 token={", part: "60 of 60 min; not OK: bake alarm \"svc-prod-bake\" in account 333333333333, region eu-west-1: cannot be read", waits: 10},
		{name: "no recorded start keeps it waiting", params: params, cw: fakeCW{states: ok},
			want: "success job-1 token={", part: "cannot read when the bake started", waits: 10},
		{name: "a rollback execution passes at once", params: params, cw: fakeCW{states: map[string]cwtypes.StateValue{"svc-prod-bake": cwtypes.StateValueAlarm}}, rollback: true,
			want: "success job-1 token=:", part: "a rollback execution"},
		{name: "parameters that do not read fail it", params: `{"stage":"Prod-W1"}`, cw: fakeCW{states: ok},
			want: "failure job-1:", part: "safepipe bake: part 0 of 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var replies []string
			w := newAWS(aws.Config{Region: "us-west-2"}, "p")
			state := &codepipeline.GetPipelineStateOutput{PipelineVersion: aws.Int32(7), StageStates: []cptypes.StageState{{StageName: aws.String("Prod-W1"),
				LatestExecution: &cptypes.StageExecution{PipelineExecutionId: aws.String("e1"), Status: cptypes.StageExecutionStatusInProgress, Type: cptypes.ExecutionTypeStandard}}}}
			if c.rollback {
				state.StageStates[0].LatestExecution.Type = cptypes.ExecutionTypeRollback
			}
			fp := fakePipeline{out: state, replies: &replies}
			if !c.started.IsZero() {
				fp.history = []cptypes.ActionExecutionDetail{bakeRecord("svc.Deploy", c.started.Add(-time.Hour)), bakeRecord("Bake", c.started)}
			}
			w.pipe = fp
			w.newCW = func(aws.Config) cloudWatchAPI { return c.cw }
			w.newCFN = func(aws.Config) cloudFormationAPI { return fakeCFN{} }
			w.newCreds = func(aws.Config, string) aws.CredentialsProvider { return aws.AnonymousCredentials{} }
			clk := &fakeClock{t: t0}
			var log bytes.Buffer
			require.NoError(t, handle(context.Background(), jobConfig(), w, jobEventJSON(t, "job-1", c.params, c.token), &log, clk.clock()))
			require.Len(t, replies, 1, "exactly one reply per invocation: %v", replies)
			assert.True(t, strings.HasPrefix(replies[0], c.want), "%s\nwant prefix %s", replies[0], c.want)
			assert.Contains(t, replies[0], c.part)
			assert.Equal(t, c.waits, clk.waits, "minutes watched before replying")
			assert.NotEmpty(t, log.String(), "every look is logged")
		})
	}
}

// TestDuplicateDeliveryIsAnswered: Lambda's asynchronous queue may deliver
// a job twice; CodePipeline refuses the second reply, which is no error.
func TestDuplicateDeliveryIsAnswered(t *testing.T) {
	w := newAWS(aws.Config{Region: "us-west-2"}, "p")
	w.pipe = fakePipeline{out: &codepipeline.GetPipelineStateOutput{}, replyErr: &cptypes.InvalidJobStateException{Message: aws.String("answered")}}
	w.newCW = func(aws.Config) cloudWatchAPI {
		return fakeCW{states: map[string]cwtypes.StateValue{"svc-prod-bake": cwtypes.StateValueAlarm}}
	}
	w.newCFN = func(aws.Config) cloudFormationAPI { return fakeCFN{} }
	w.newCreds = func(aws.Config, string) aws.CredentialsProvider { return aws.AnonymousCredentials{} }
	clk := &fakeClock{t: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)}
	err := handle(context.Background(), jobConfig(), w, jobEventJSON(t, "job-1", `{"stage":"Prod-W1","part":1,"parts":1,"minutes":60}`, ""), &bytes.Buffer{}, clk.clock())
	assert.NoError(t, err)
}

// TestScheduledRoundPublishes: an event that is not a job is the
// schedule's: the entry decisions and the heartbeat are published, and no
// BakeBreached for a stage that bakes through its action.
func TestScheduledRoundPublishes(t *testing.T) {
	var put []cwtypes.MetricDatum
	w := newAWS(aws.Config{Region: "us-west-2"}, "p")
	w.pipe = fakePipeline{out: &codepipeline.GetPipelineStateOutput{}}
	w.ownCW = fakeCW{put: &put}
	w.newCW = func(aws.Config) cloudWatchAPI {
		return fakeCW{states: map[string]cwtypes.StateValue{"svc-prod-bake": cwtypes.StateValueOk, "svc-prod-aggregate-rollback": cwtypes.StateValueOk}}
	}
	w.newCFN = func(aws.Config) cloudFormationAPI { return fakeCFN{} }
	w.newCreds = func(aws.Config, string) aws.CredentialsProvider { return aws.AnonymousCredentials{} }
	var log bytes.Buffer
	require.NoError(t, handle(context.Background(), jobConfig(), w, json.RawMessage(`{"source":"aws.events","detail-type":"Scheduled Event"}`), &log, realClock))
	var names []string
	for _, d := range put {
		names = append(names, aws.ToString(d.MetricName))
	}
	assert.ElementsMatch(t, []string{gates.MetricHeartbeat, gates.MetricEntryBlocked}, names)
	assert.Contains(t, log.String(), `"stage":"Prod-W1"`)
}

// TestStackStatusesOfAFailedFirstCreate: a stack whose first create
// failed (ROLLBACK_COMPLETE) holds nothing: its missing alarms are the
// region's first deployment, and do not close the entry for ever.
func TestStackStatusesOfAFailedFirstCreate(t *testing.T) {
	for status, blocked := range map[cfntypes.StackStatus]bool{
		cfntypes.StackStatusRollbackComplete:        false,
		cfntypes.StackStatusCreateFailed:            false,
		cfntypes.StackStatusReviewInProgress:        false,
		cfntypes.StackStatusUpdateComplete:          true,
		cfntypes.StackStatusUpdateRollbackComplete:  true,
		cfntypes.StackStatus("SOMETHING_NEW_LATER"): true,
	} {
		t.Run(string(status), func(t *testing.T) {
			w := newAWS(aws.Config{Region: "us-west-2"}, "p")
			w.pipe = fakePipeline{out: &codepipeline.GetPipelineStateOutput{}}
			w.newCW = func(aws.Config) cloudWatchAPI { return fakeCW{states: map[string]cwtypes.StateValue{}} }
			w.newCFN = func(aws.Config) cloudFormationAPI {
				return fakeCFN{status: map[string]cfntypes.StackStatus{"svc": status}}
			}
			w.newCreds = func(aws.Config, string) aws.CredentialsProvider { return aws.AnonymousCredentials{} }
			cfg := jobConfig()
			cfg.Stages[0].Window = false
			d := gates.Evaluate(context.Background(), cfg, w, time.Now())[0]
			assert.Equal(t, blocked, d.EntryBlocked, "%v %v", d.EntryReasons, d.Notes)
		})
	}
}

// TestHasRollbackTarget: a stage has a rollback target once the last
// part of a standard execution's bake passed it, that execution having
// started in the current structure version; a rollback execution's bake
// does not count, nor an earlier part of a chained bake, nor an execution
// of an older version; the history is read whatever its order.
func TestHasRollbackTarget(t *testing.T) {
	bake := func(stage, name, exec string, version int32, status cptypes.ActionExecutionStatus, out string) cptypes.ActionExecutionDetail {
		d := cptypes.ActionExecutionDetail{StageName: aws.String(stage), ActionName: aws.String(name), PipelineVersion: aws.Int32(version), Status: status, PipelineExecutionId: aws.String(exec)}
		if out != "" {
			d.Output = &cptypes.ActionExecutionOutput{OutputVariables: map[string]string{BakeOutput: out}}
		}
		return d
	}
	execs := map[string]cptypes.PipelineExecution{
		"e7":  {PipelineVersion: aws.Int32(7), ExecutionType: cptypes.ExecutionTypeStandard},
		"e6":  {PipelineVersion: aws.Int32(6), ExecutionType: cptypes.ExecutionTypeStandard},
		"r7":  {PipelineVersion: aws.Int32(7), ExecutionType: cptypes.ExecutionTypeRollback},
		"old": {PipelineVersion: aws.Int32(6), ExecutionType: cptypes.ExecutionTypeStandard},
	}
	other := cptypes.ActionExecutionDetail{StageName: aws.String("Prod-W1"), ActionName: aws.String("svc.Deploy"), PipelineVersion: aws.Int32(7), Status: cptypes.ActionExecutionStatusSucceeded}
	ok := cptypes.ActionExecutionStatusSucceeded
	for _, c := range []struct {
		name    string
		history []cptypes.ActionExecutionDetail
		want    bool
	}{
		{"passed in this version", []cptypes.ActionExecutionDetail{other, other, bake("Prod-W1", "Bake", "e7", 7, ok, "passed")}, true},
		{"passed only in an older version", []cptypes.ActionExecutionDetail{other, bake("Prod-W1", "Bake", "e6", 6, ok, "passed")}, false},
		{"a rollback's bake does not count", []cptypes.ActionExecutionDetail{bake("Prod-W1", "Bake", "r7", 7, ok, "rollback"), bake("Prod-W1", "Bake", "e6", 6, ok, "passed")}, false},
		{"nor a rollback execution that says passed", []cptypes.ActionExecutionDetail{bake("Prod-W1", "Bake", "r7", 7, ok, "passed")}, false},
		{"an earlier part of a chained bake does not count", []cptypes.ActionExecutionDetail{bake("Prod-W1", "Bake-1of2", "e7", 7, ok, "part")}, false},
		{"an execution started in an older version does not count", []cptypes.ActionExecutionDetail{bake("Prod-W1", "Bake", "old", 7, ok, "passed")}, false},
		{"whatever the order", []cptypes.ActionExecutionDetail{bake("Prod-W1", "Bake", "e6", 6, ok, "passed"), other, other, bake("Prod-W1", "Bake", "e7", 7, ok, "passed")}, true},
		{"a failed bake does not count", []cptypes.ActionExecutionDetail{bake("Prod-W1", "Bake", "e7", 7, cptypes.ActionExecutionStatusFailed, "")}, false},
		{"another stage's", []cptypes.ActionExecutionDetail{bake("Prod-W2", "Bake", "e7", 7, ok, "passed")}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newAWS(aws.Config{Region: "us-west-2"}, "p")
			w.pipe = fakePipeline{out: &codepipeline.GetPipelineStateOutput{PipelineVersion: aws.Int32(7)}, history: c.history, execs: execs}
			_, err := w.Stages(context.Background())
			require.NoError(t, err)
			has, err := w.HasRollbackTarget(context.Background(), "Prod-W1")
			require.NoError(t, err)
			assert.Equal(t, c.want, has)
		})
	}
	w := newAWS(aws.Config{Region: "us-west-2"}, "p")
	_, err := w.HasRollbackTarget(context.Background(), "Prod-W1")
	assert.ErrorContains(t, err, "structure version is not known")
}

// TestOverriddenEntryIsLogged: an entry an operator overrode shows in the
// controller's decision notes (and so in its log), from the stage's
// BeforeEntryConditionState.
func TestOverriddenEntryIsLogged(t *testing.T) {
	w := newAWS(aws.Config{Region: "us-west-2"}, "p")
	w.pipe = fakePipeline{out: &codepipeline.GetPipelineStateOutput{PipelineVersion: aws.Int32(3), StageStates: []cptypes.StageState{{StageName: aws.String("Prod-W1"),
		BeforeEntryConditionState: &cptypes.StageConditionState{LatestExecution: &cptypes.StageConditionsExecution{Status: cptypes.ConditionExecutionStatusOverridden}}}}}}
	w.newCW = func(aws.Config) cloudWatchAPI {
		return fakeCW{states: map[string]cwtypes.StateValue{"svc-prod-aggregate-rollback": cwtypes.StateValueOk}}
	}
	w.newCFN = func(aws.Config) cloudFormationAPI { return fakeCFN{} }
	w.newCreds = func(aws.Config, string) aws.CredentialsProvider { return aws.AnonymousCredentials{} }
	d := gates.Evaluate(context.Background(), jobConfig(), w, time.Now())[0]
	assert.Contains(t, strings.Join(d.Notes, "\n"), "an operator overrode the entry condition")
}

func TestCutKeepsRunes(t *testing.T) {
	s := strings.Repeat("é", 10) // 2 bytes each
	got := cut(s, 10)
	assert.True(t, utf8.ValidString(got), got)
	assert.LessOrEqual(t, len(got), 10)
	assert.Equal(t, "abc", cut("abc", 10))
}

// TestRunningStages: a stage whose latest execution is in progress runs
// one (gates.StageState.Running, which a serial entry waits on); a
// finished one does not.
func TestRunningStages(t *testing.T) {
	w := newAWS(aws.Config{Region: "us-west-2"}, "p")
	w.pipe = fakePipeline{out: &codepipeline.GetPipelineStateOutput{PipelineVersion: aws.Int32(3), StageStates: []cptypes.StageState{
		{StageName: aws.String("UpDown-UpgradeFull"), LatestExecution: &cptypes.StageExecution{Status: cptypes.StageExecutionStatusInProgress, Type: cptypes.ExecutionTypeStandard}},
		{StageName: aws.String("UpDown-Reupgrade"), LatestExecution: &cptypes.StageExecution{Status: cptypes.StageExecutionStatusSucceeded, Type: cptypes.ExecutionTypeStandard}},
	}}}
	st, err := w.Stages(context.Background())
	require.NoError(t, err)
	assert.True(t, st["UpDown-UpgradeFull"].Running)
	assert.False(t, st["UpDown-Reupgrade"].Running)
}
