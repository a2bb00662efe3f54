package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/gates"
	"github.com/safepipe/safepipe/internal/mototest"
)

// fakePipeline answers GetPipelineState and ListActionExecutions, and
// records job replies.
type fakePipeline struct {
	out      *codepipeline.GetPipelineStateOutput
	replies  *[]string
	replyErr error
	history  []cptypes.ActionExecutionDetail
	// execs are executions' versions and types (GetPipelineExecution).
	execs map[string]cptypes.PipelineExecution
	// rollbacks records RollbackStage calls ("stage→target"); rollbackErr
	// refuses them.
	rollbacks   *[]string
	rollbackErr error
	// succeeded are, by stage, the executions that succeeded in it
	// (ListPipelineExecutions, succeededInStage).
	succeeded map[string][]cptypes.PipelineExecutionSummary
}

func (f fakePipeline) ListPipelineExecutions(_ context.Context, in *codepipeline.ListPipelineExecutionsInput, _ ...func(*codepipeline.Options)) (*codepipeline.ListPipelineExecutionsOutput, error) {
	if in.Filter == nil || in.Filter.SucceededInStage == nil {
		return nil, errors.New("unexpected ListPipelineExecutions without succeededInStage")
	}
	return &codepipeline.ListPipelineExecutionsOutput{PipelineExecutionSummaries: f.succeeded[aws.ToString(in.Filter.SucceededInStage.StageName)]}, nil
}

func (f fakePipeline) RollbackStage(_ context.Context, in *codepipeline.RollbackStageInput, _ ...func(*codepipeline.Options)) (*codepipeline.RollbackStageOutput, error) {
	if f.rollbacks == nil {
		return nil, errors.New("unexpected RollbackStage")
	}
	*f.rollbacks = append(*f.rollbacks, aws.ToString(in.StageName)+"→"+aws.ToString(in.TargetPipelineExecutionId))
	if f.rollbackErr != nil {
		return nil, f.rollbackErr
	}
	return &codepipeline.RollbackStageOutput{PipelineExecutionId: aws.String("rb-new")}, nil
}

func (f fakePipeline) ListActionExecutions(_ context.Context, in *codepipeline.ListActionExecutionsInput, _ ...func(*codepipeline.Options)) (*codepipeline.ListActionExecutionsOutput, error) {
	var all []cptypes.ActionExecutionDetail
	for _, d := range f.history {
		if in.Filter == nil || in.Filter.PipelineExecutionId == nil || aws.ToString(d.PipelineExecutionId) == *in.Filter.PipelineExecutionId {
			all = append(all, d)
		}
	}
	// Two items a page, to exercise the paging.
	start := 0
	if in.NextToken != nil {
		fmt.Sscan(*in.NextToken, &start)
	}
	end := min(start+2, len(all))
	out := &codepipeline.ListActionExecutionsOutput{ActionExecutionDetails: all[start:end]}
	if end < len(all) {
		out.NextToken = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

func (f fakePipeline) GetPipelineExecution(_ context.Context, in *codepipeline.GetPipelineExecutionInput, _ ...func(*codepipeline.Options)) (*codepipeline.GetPipelineExecutionOutput, error) {
	e, ok := f.execs[aws.ToString(in.PipelineExecutionId)]
	if !ok {
		return nil, fmt.Errorf("PipelineExecutionNotFoundException: %s", aws.ToString(in.PipelineExecutionId))
	}
	return &codepipeline.GetPipelineExecutionOutput{PipelineExecution: &e}, nil
}

func (f fakePipeline) GetPipelineState(context.Context, *codepipeline.GetPipelineStateInput, ...func(*codepipeline.Options)) (*codepipeline.GetPipelineStateOutput, error) {
	return f.out, nil
}

func (f fakePipeline) PutJobSuccessResult(_ context.Context, in *codepipeline.PutJobSuccessResultInput, _ ...func(*codepipeline.Options)) (*codepipeline.PutJobSuccessResultOutput, error) {
	if f.replies != nil {
		*f.replies = append(*f.replies, fmt.Sprintf("success %s token=%s: %s", aws.ToString(in.JobId), aws.ToString(in.ContinuationToken), aws.ToString(in.ExecutionDetails.Summary)))
	}
	return &codepipeline.PutJobSuccessResultOutput{}, f.replyErr
}

func (f fakePipeline) PutJobFailureResult(_ context.Context, in *codepipeline.PutJobFailureResultInput, _ ...func(*codepipeline.Options)) (*codepipeline.PutJobFailureResultOutput, error) {
	if f.replies != nil {
		*f.replies = append(*f.replies, fmt.Sprintf("failure %s: %s", aws.ToString(in.JobId), aws.ToString(in.FailureDetails.Message)))
	}
	return &codepipeline.PutJobFailureResultOutput{}, f.replyErr
}

// withHistory is moto's CloudWatch with recorded alarm history: moto 5
// does not implement DescribeAlarmHistory. The items are in the format
// CloudWatch documents for StateUpdate history data.
type withHistory struct {
	cloudWatchAPI
	items []cwtypes.AlarmHistoryItem
}

func (w withHistory) DescribeAlarmHistory(_ context.Context, in *cloudwatch.DescribeAlarmHistoryInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmHistoryOutput, error) {
	var out []cwtypes.AlarmHistoryItem
	for _, it := range w.items {
		if aws.ToString(it.AlarmName) == aws.ToString(in.AlarmName) && !aws.ToTime(it.Timestamp).Before(aws.ToTime(in.StartDate)) {
			out = append(out, it)
		}
	}
	return &cloudwatch.DescribeAlarmHistoryOutput{AlarmHistoryItems: out}, nil
}

func stateUpdate(alarm string, at time.Time, from, to string) cwtypes.AlarmHistoryItem {
	return cwtypes.AlarmHistoryItem{
		AlarmName: aws.String(alarm), Timestamp: aws.Time(at), HistoryItemType: cwtypes.HistoryItemTypeStateUpdate,
		HistoryData: aws.String(fmt.Sprintf(`{"version":"1.0","oldState":{"stateValue":%q,"stateReason":"r"},"newState":{"stateValue":%q,"stateReason":"r"}}`, from, to)),
	}
}

// TestAgainstMoto runs the controller's AWS adapter against moto: alarms
// read by name across regions and an assumed role, a stack's existence,
// the pipeline's state, and the published metrics.
func TestAgainstMoto(t *testing.T) {
	mototest.Start(t)
	ctx := context.Background()
	base, err := config.LoadDefaultConfig(ctx)
	require.NoError(t, err)

	const acct = "123456789012"
	role := "arn:aws:iam::" + acct + ":role/cdk-hnb659fds-lookup-role-" + acct + "-eu-west-1"
	euw1 := base.Copy()
	euw1.Region = "eu-west-1"
	cw := cloudwatch.NewFromConfig(euw1)
	for _, name := range []string{"orders-prod-aggregate-rollback", "orders-prod-bake"} {
		_, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(name), Namespace: aws.String("AWS/Lambda"), MetricName: aws.String("Errors"), Statistic: cwtypes.StatisticSum,
			Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
		})
		require.NoError(t, err)
	}
	_, err = cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("orders-prod-aggregate-rollback"), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("test")})
	require.NoError(t, err)
	_, err = cloudformation.NewFromConfig(euw1).CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String("orders-service"),
		TemplateBody: aws.String(`{"Resources":{"Topic":{"Type":"AWS::SNS::Topic"}}}`),
	})
	require.NoError(t, err)

	bakeStart := time.Now().Add(-20 * time.Minute).UTC().Truncate(time.Second)
	w := newAWS(base, "OrdersPipeline-Pipeline")
	w.pipe = fakePipeline{out: &codepipeline.GetPipelineStateOutput{StageStates: []cptypes.StageState{
		{StageName: aws.String("Prod-W1"), LatestExecution: &cptypes.StageExecution{PipelineExecutionId: aws.String("e2"), Status: cptypes.StageExecutionStatusInProgress, Type: cptypes.ExecutionTypeStandard},
			ActionStates: []cptypes.ActionState{
				{ActionName: aws.String("orders-service.Prepare"), LatestExecution: &cptypes.ActionExecution{Status: cptypes.ActionExecutionStatusSucceeded, LastStatusChange: aws.Time(bakeStart.Add(-5 * time.Minute))}},
				{ActionName: aws.String("orders-service.Deploy"), LatestExecution: &cptypes.ActionExecution{Status: cptypes.ActionExecutionStatusSucceeded, LastStatusChange: aws.Time(bakeStart)}},
			}},
		{StageName: aws.String("Prod-W2"), InboundExecutions: []cptypes.StageExecution{{PipelineExecutionId: aws.String("e3"), Status: cptypes.StageExecutionStatusInProgress, Type: cptypes.ExecutionTypeRollback}}},
	}}}
	newCW := w.newCW
	w.newCW = func(c aws.Config) cloudWatchAPI {
		return withHistory{newCW(c), []cwtypes.AlarmHistoryItem{
			stateUpdate("orders-prod-bake", bakeStart.Add(5*time.Minute), "OK", "ALARM"),
			stateUpdate("orders-prod-bake", bakeStart.Add(7*time.Minute), "ALARM", "OK"),
		}}
	}
	alarm := func(name string) gates.Alarm {
		return gates.Alarm{Account: acct, Region: "eu-west-1", Role: role, Name: name, Stack: "orders-service"}
	}
	cfg := &gates.Config{Version: gates.Version, Pipeline: "OrdersPipeline-Pipeline",
		Window: gates.Window{TimeZone: "UTC", Days: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}, StartHour: 0, EndHour: 24},
		Stages: []gates.Stage{
			{Name: "Prod-W1", Window: true, BakeMinutes: 60,
				Blockers: []gates.Alarm{alarm("orders-prod-aggregate-rollback"), alarm("orders-prod-missing")},
				Bake:     []gates.Alarm{alarm("orders-prod-bake")}},
			{Name: "Prod-W2", Window: true, Blockers: []gates.Alarm{alarm("orders-prod-aggregate-rollback")}},
		}}
	require.NoError(t, cfg.Validate())
	now := time.Now().UTC()
	ds := gates.Evaluate(ctx, cfg, w, now)
	require.Len(t, ds, 2)
	reasons := strings.Join(ds[0].EntryReasons, "\n")
	assert.True(t, ds[0].EntryBlocked)
	assert.Contains(t, reasons, `alarm "orders-prod-aggregate-rollback" in account 123456789012, region eu-west-1: is in ALARM`)
	assert.Contains(t, reasons, `alarm "orders-prod-missing" in account 123456789012, region eu-west-1: does not exist although stack orders-service, which creates it, does`)
	assert.True(t, ds[0].BakeBreached, "the alarm the bake saw for two minutes is not lost")
	assert.Contains(t, strings.Join(ds[0].BakeReasons, "\n"), "was in ALARM at "+bakeStart.Add(5*time.Minute).Format(time.RFC3339))
	assert.False(t, ds[1].EntryBlocked, "a rollback waiting to enter Prod-W2 passes its gate: %v", ds[1].EntryReasons)

	require.NoError(t, w.publish(ctx, cfg, ds, now))
	own := cloudwatch.NewFromConfig(base)
	metrics, err := own.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String(gates.Namespace)})
	require.NoError(t, err)
	var names []string
	for _, m := range metrics.Metrics {
		dims := map[string]string{}
		for _, d := range m.Dimensions {
			dims[aws.ToString(d.Name)] = aws.ToString(d.Value)
		}
		names = append(names, aws.ToString(m.MetricName)+"/"+dims["Pipeline"]+"/"+dims["Stage"])
	}
	assert.ElementsMatch(t, []string{
		"EntryBlocked/OrdersPipeline-Pipeline/Prod-W1", "BakeBreached/OrdersPipeline-Pipeline/Prod-W1",
		"EntryBlocked/OrdersPipeline-Pipeline/Prod-W2", "BakeBreached/OrdersPipeline-Pipeline/Prod-W2",
		"Heartbeat/OrdersPipeline-Pipeline/",
	}, names)
}

// TestStackExistsFirstDeployment: before the stack exists, a missing
// alarm is the region's first deployment and does not block.
func TestStackExistsFirstDeployment(t *testing.T) {
	mototest.Start(t)
	ctx := context.Background()
	base, err := config.LoadDefaultConfig(ctx)
	require.NoError(t, err)
	w := newAWS(base, "p")
	ok, err := w.StackExists(ctx, gates.Place{Account: "123456789012", Region: "eu-west-1"}, "never-deployed")
	require.NoError(t, err)
	assert.False(t, ok)
}

// TestLedgerAgainstMoto: the controller reads a two-phase ledger with
// GetParameter, and a ledger that does not exist is "not prepared there".
func TestLedgerAgainstMoto(t *testing.T) {
	mototest.Start(t)
	ctx := context.Background()
	base, err := config.LoadDefaultConfig(ctx)
	require.NoError(t, err)
	euw1 := base.Copy()
	euw1.Region = "eu-west-1"
	_, err = ssm.NewFromConfig(euw1).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/safepipe/two-phase/orders-service"),
		Value: aws.String(`{"changes":{"order-record-v2":{"full":"prepare","canary":"none"}}}`), Type: ssmtypes.ParameterTypeString})
	require.NoError(t, err)
	w := newAWS(base, "p")
	v, found, err := w.Ledger(ctx, gates.Place{Account: "123456789012", Region: "eu-west-1"}, "/safepipe/two-phase/orders-service")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Contains(t, v, `"full":"prepare"`)
	_, found, err = w.Ledger(ctx, gates.Place{Account: "123456789012", Region: "us-east-1"}, "/safepipe/two-phase/orders-service")
	require.NoError(t, err)
	assert.False(t, found, "the prepare release never deployed to us-east-1")

	cfg := &gates.Config{Version: gates.Version, Pipeline: "p",
		Window: gates.Window{TimeZone: "UTC", Days: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}, StartHour: 0, EndHour: 24},
		Stages: []gates.Stage{{Name: "Prod-W1", Prepared: []gates.Requirement{
			{Account: "123456789012", Region: "eu-west-1", Parameter: "/safepipe/two-phase/orders-service", Change: "order-record-v2"},
			{Account: "123456789012", Region: "us-east-1", Parameter: "/safepipe/two-phase/orders-service", Change: "order-record-v2"},
		}}}}
	require.NoError(t, cfg.Validate())
	w.pipe = fakePipeline{out: &codepipeline.GetPipelineStateOutput{}}
	d := gates.Evaluate(ctx, cfg, w, time.Now())[0]
	assert.True(t, d.EntryBlocked)
	assert.Equal(t, []string{`change "order-record-v2": ledger /safepipe/two-phase/orders-service does not exist in account 123456789012, region us-east-1: the prepare release has not deployed there`}, d.EntryReasons)
}

// TestRegionRollbackRound: a scheduled round reads the pipeline's state
// (the stages' latest executions), the failed step's rollback target
// (GetPipelineExecution's rollbackMetadata) and where the change went
// (ListActionExecutions filtered by the execution), closes the region's
// entries and rolls its latest earlier step back to the target.
func TestRegionRollbackRound(t *testing.T) {
	mototest.Start(t)
	ctx := context.Background()
	base, err := config.LoadDefaultConfig(ctx)
	require.NoError(t, err)
	const good, bad, rb = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002", "00000000-0000-0000-0000-0000000000aa"
	stage := func(name, id string, typ cptypes.ExecutionType, status cptypes.StageExecutionStatus) cptypes.StageState {
		return cptypes.StageState{StageName: aws.String(name), LatestExecution: &cptypes.StageExecution{PipelineExecutionId: aws.String(id), Type: typ, Status: status}}
	}
	var calls []string
	w := newAWS(base, "CatalogPipeline")
	w.pipe = fakePipeline{
		out: &codepipeline.GetPipelineStateOutput{PipelineVersion: aws.Int32(3), StageStates: []cptypes.StageState{
			stage("OneBox", bad, cptypes.ExecutionTypeStandard, cptypes.StageExecutionStatusSucceeded),
			stage("Z1", bad, cptypes.ExecutionTypeStandard, cptypes.StageExecutionStatusSucceeded),
			stage("Z2", rb, cptypes.ExecutionTypeRollback, cptypes.StageExecutionStatusSucceeded),
		}},
		execs: map[string]cptypes.PipelineExecution{rb: {ExecutionType: cptypes.ExecutionTypeRollback, RollbackMetadata: &cptypes.PipelineRollbackMetadata{RollbackTargetPipelineExecutionId: aws.String(good)}}},
		history: []cptypes.ActionExecutionDetail{
			{PipelineExecutionId: aws.String(bad), StageName: aws.String("OneBox"), ActionName: aws.String("Deploy")},
			{PipelineExecutionId: aws.String(bad), StageName: aws.String("Z1"), ActionName: aws.String("Deploy")},
			{PipelineExecutionId: aws.String(bad), StageName: aws.String("Z2"), ActionName: aws.String("Deploy")},
		},
		rollbacks: &calls,
		succeeded: map[string][]cptypes.PipelineExecutionSummary{
			// Z1: the good release, then the bad one (the order of the
			// list is not documented: the latest start counts).
			"Z1": {
				{PipelineExecutionId: aws.String(bad), ExecutionType: cptypes.ExecutionTypeStandard, StartTime: aws.Time(time.Now().Add(-2 * time.Hour))},
				{PipelineExecutionId: aws.String(good), ExecutionType: cptypes.ExecutionTypeStandard, StartTime: aws.Time(time.Now().Add(-48 * time.Hour))},
			},
			"OneBox": {{PipelineExecutionId: aws.String(bad), ExecutionType: cptypes.ExecutionTypeStandard, StartTime: aws.Time(time.Now().Add(-2 * time.Hour))}},
		},
	}
	cfg := &gates.Config{Version: gates.Version, Pipeline: "CatalogPipeline",
		Window: gates.Window{TimeZone: "UTC", Days: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}, StartHour: 0, EndHour: 24},
		Stages: []gates.Stage{{Name: "OneBox"}, {Name: "Z1"}, {Name: "Z2", RollsBack: []string{"OneBox", "Z1"}}}}
	require.NoError(t, cfg.Validate())
	var log strings.Builder
	require.NoError(t, run(ctx, cfg, w, &log, true))
	assert.Equal(t, []string{"Z1→" + good}, calls, "the latest earlier step first, one a round")
	assert.Contains(t, log.String(), `"rollBackTo":"`+good+`","rollbackExecution":"rb-new"`)
	for _, d := range gates.Evaluate(ctx, cfg, w, time.Now()) {
		assert.True(t, d.EntryBlocked, "%s stays closed while its region rolls back", d.Stage)
	}
	// The next round, before GetPipelineState shows the rollback: not
	// ordered twice.
	require.NoError(t, run(ctx, cfg, w, &log, true))
	assert.Len(t, calls, 1)

	// A refusal is a log line, not a function error (Lambda would retry
	// the round), and the region stays closed.
	w2 := newAWS(base, "CatalogPipeline")
	fp := w.pipe.(fakePipeline)
	var calls2 []string
	fp.rollbacks, fp.rollbackErr = &calls2, errors.New("ConflictException: the pipeline is busy")
	w2.pipe = fp
	log.Reset()
	require.NoError(t, run(ctx, cfg, w2, &log, true))
	assert.Equal(t, []string{"Z1→" + good}, calls2)
	assert.Contains(t, log.String(), `"refused":"ConflictException: the pipeline is busy"`)

	// A stage that ran a rollback runs its target.
	fp.succeeded["Z1"] = append(fp.succeeded["Z1"], cptypes.PipelineExecutionSummary{PipelineExecutionId: aws.String("rb-z1"), ExecutionType: cptypes.ExecutionTypeRollback,
		StartTime: aws.Time(time.Now()), RollbackMetadata: &cptypes.PipelineRollbackMetadata{RollbackTargetPipelineExecutionId: aws.String(good)}})
	w2.pipe = fp
	runs, err := w2.Deployed(ctx, "Z1")
	require.NoError(t, err)
	assert.Equal(t, good, runs)
}

// TestStagesReadsExecutions: GetPipelineState's latest execution of each
// stage, an execution that waits at its entry condition (no action has
// started), a rollback that runs the stage's actions, and a latest
// execution without a type ("Required: No"), read as standard.
func TestStagesReadsExecutions(t *testing.T) {
	w := newAWS(aws.Config{}, "p")
	inProgress := func(id string, typ cptypes.ExecutionType) *cptypes.StageExecution {
		return &cptypes.StageExecution{PipelineExecutionId: aws.String(id), Status: cptypes.StageExecutionStatusInProgress, Type: typ}
	}
	waiting := &cptypes.StageConditionState{LatestExecution: &cptypes.StageConditionsExecution{Status: cptypes.ConditionExecutionStatusInProgress}}
	acting := []cptypes.ActionState{{ActionName: aws.String("Deploy"), LatestExecution: &cptypes.ActionExecution{Status: cptypes.ActionExecutionStatusInProgress}}}
	w.pipe = fakePipeline{out: &codepipeline.GetPipelineStateOutput{PipelineVersion: aws.Int32(1), StageStates: []cptypes.StageState{
		{StageName: aws.String("Waits"), LatestExecution: inProgress("e1", cptypes.ExecutionTypeStandard), BeforeEntryConditionState: waiting},
		{StageName: aws.String("RollsBack"), LatestExecution: inProgress("r1", cptypes.ExecutionTypeRollback), ActionStates: acting},
		{StageName: aws.String("Untyped"), LatestExecution: &cptypes.StageExecution{PipelineExecutionId: aws.String("e0"), Status: cptypes.StageExecutionStatusSucceeded}},
	}}}
	st, err := w.Stages(context.Background())
	require.NoError(t, err)
	assert.Equal(t, gates.StageState{Running: true, EntryWaiting: true, Execution: "e1", ExecutionType: "STANDARD", Status: "InProgress"}, st["Waits"])
	assert.Equal(t, gates.StageState{Running: true, Rollback: true, RollbackEntered: true, Execution: "r1", ExecutionType: "ROLLBACK", Status: "InProgress"}, st["RollsBack"])
	assert.Equal(t, gates.StageState{Execution: "e0", ExecutionType: "STANDARD", Status: "Succeeded"}, st["Untyped"])
}
