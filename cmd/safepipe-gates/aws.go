package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/safepipe/safepipe/gates"
)

// The AWS APIs the controller calls, as interfaces so that tests can
// stand in for the pipeline (moto does not model pipeline state).
type (
	cloudWatchAPI interface {
		DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
		DescribeAlarmHistory(context.Context, *cloudwatch.DescribeAlarmHistoryInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmHistoryOutput, error)
		PutMetricData(context.Context, *cloudwatch.PutMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
	}
	cloudFormationAPI interface {
		DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	}
	ssmAPI interface {
		GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	}
	pipelineAPI interface {
		GetPipelineState(context.Context, *codepipeline.GetPipelineStateInput, ...func(*codepipeline.Options)) (*codepipeline.GetPipelineStateOutput, error)
		PutJobSuccessResult(context.Context, *codepipeline.PutJobSuccessResultInput, ...func(*codepipeline.Options)) (*codepipeline.PutJobSuccessResultOutput, error)
		PutJobFailureResult(context.Context, *codepipeline.PutJobFailureResultInput, ...func(*codepipeline.Options)) (*codepipeline.PutJobFailureResultOutput, error)
		ListActionExecutions(context.Context, *codepipeline.ListActionExecutionsInput, ...func(*codepipeline.Options)) (*codepipeline.ListActionExecutionsOutput, error)
	}
)

// awsWorld implements gates.Observer with the AWS APIs: the pipeline and
// its own alarms with the function's role, every other account's alarms
// and stacks with the configured role, assumed once per run and region.
type awsWorld struct {
	base     aws.Config
	pipeline string

	mu       sync.Mutex
	cw       map[gates.Place]cloudWatchAPI
	cfn      map[gates.Place]cloudFormationAPI
	pipe     pipelineAPI
	ownCW    cloudWatchAPI
	newCW    func(aws.Config) cloudWatchAPI
	newCFN   func(aws.Config) cloudFormationAPI
	newSSM   func(aws.Config) ssmAPI
	newCreds func(aws.Config, string) aws.CredentialsProvider

	// version is the pipeline's structure version as the last
	// GetPipelineState read it (0 before); targets remembers the stages
	// known to have a rollback target in that version (it stays one until
	// the version changes).
	version int32
	targets map[string]bool
}

func newAWS(base aws.Config, pipeline string) *awsWorld {
	return &awsWorld{
		base: base, pipeline: pipeline,
		cw: map[gates.Place]cloudWatchAPI{}, cfn: map[gates.Place]cloudFormationAPI{},
		pipe:   codepipeline.NewFromConfig(base),
		ownCW:  cloudwatch.NewFromConfig(base),
		newCW:  func(c aws.Config) cloudWatchAPI { return cloudwatch.NewFromConfig(c) },
		newCFN: func(c aws.Config) cloudFormationAPI { return cloudformation.NewFromConfig(c) },
		newSSM: func(c aws.Config) ssmAPI { return ssm.NewFromConfig(c) },
		newCreds: func(c aws.Config, role string) aws.CredentialsProvider {
			return aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(c), role, func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = "safepipe-gates"
			}))
		},
	}
}

// configFor is the SDK configuration of a place: its region, and the
// place's role when it names one.
func (w *awsWorld) configFor(p gates.Place) aws.Config {
	c := w.base.Copy()
	c.Region = p.Region
	if p.Role != "" {
		c.Credentials = w.newCreds(c, p.Role)
	}
	return c
}

func (w *awsWorld) cloudWatch(p gates.Place) cloudWatchAPI {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.cw[p]; ok {
		return c
	}
	c := w.newCW(w.configFor(p))
	w.cw[p] = c
	return c
}

func (w *awsWorld) cloudFormation(p gates.Place) cloudFormationAPI {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.cfn[p]; ok {
		return c
	}
	c := w.newCFN(w.configFor(p))
	w.cfn[p] = c
	return c
}

// bothTypes asks for composite and metric alarms: "If you omit this
// parameter, only metric alarms are returned"
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html,
// AlarmTypes). Reading composites also needs cloudwatch:DescribeAlarms
// on "*" (same page): the roles the pipeline grants have it.
var bothTypes = []cwtypes.AlarmType{cwtypes.AlarmTypeCompositeAlarm, cwtypes.AlarmTypeMetricAlarm}

// Alarms implements gates.Observer: DescribeAlarms by name, 100 at a time.
func (w *awsWorld) Alarms(ctx context.Context, p gates.Place, names []string) (map[string]gates.State, error) {
	cw := w.cloudWatch(p)
	out := map[string]gates.State{}
	for chunk := range slices.Chunk(names, 100) {
		in := &cloudwatch.DescribeAlarmsInput{AlarmNames: chunk, AlarmTypes: bothTypes, MaxRecords: aws.Int32(100)}
		for {
			resp, err := cw.DescribeAlarms(ctx, in)
			if err != nil {
				return nil, err
			}
			for _, a := range resp.MetricAlarms {
				out[aws.ToString(a.AlarmName)] = gates.State(a.StateValue)
			}
			for _, a := range resp.CompositeAlarms {
				out[aws.ToString(a.AlarmName)] = gates.State(a.StateValue)
			}
			if resp.NextToken == nil {
				break
			}
			in.NextToken = resp.NextToken
		}
	}
	return out, nil
}

// historyData is the part of a StateUpdate history item's HistoryData the
// controller reads.
type historyData struct {
	OldState struct {
		StateValue string `json:"stateValue"`
	} `json:"oldState"`
	NewState struct {
		StateValue string `json:"stateValue"`
	} `json:"newState"`
}

// History implements gates.Observer: the alarm's StateUpdate history items
// since a time, oldest first.
func (w *awsWorld) History(ctx context.Context, p gates.Place, name string, since time.Time) ([]gates.Transition, error) {
	cw := w.cloudWatch(p)
	in := &cloudwatch.DescribeAlarmHistoryInput{
		AlarmName: aws.String(name), AlarmTypes: bothTypes, HistoryItemType: cwtypes.HistoryItemTypeStateUpdate,
		StartDate: aws.Time(since), EndDate: aws.Time(time.Now().Add(time.Minute)), ScanBy: cwtypes.ScanByTimestampAscending,
	}
	var out []gates.Transition
	for {
		resp, err := cw.DescribeAlarmHistory(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, h := range resp.AlarmHistoryItems {
			var d historyData
			if err := json.Unmarshal([]byte(aws.ToString(h.HistoryData)), &d); err != nil {
				return nil, fmt.Errorf("history of %s: %w", name, err)
			}
			out = append(out, gates.Transition{At: aws.ToTime(h.Timestamp), From: gates.State(d.OldState.StateValue), To: gates.State(d.NewState.StateValue)})
		}
		if resp.NextToken == nil {
			break
		}
		in.NextToken = resp.NextToken
	}
	slices.SortStableFunc(out, func(a, b gates.Transition) int { return a.At.Compare(b.At) })
	return out, nil
}

// StackExists implements gates.Observer: whether the stack was created
// (gates.StackCreated of its StackStatus: a stack whose first create
// failed, in ROLLBACK_COMPLETE, holds nothing). DescribeStacks fails with
// a ValidationError naming the stack when it does not exist ("If the
// stack doesn't exist, a ValidationError is returned", API_DescribeStacks);
// a deleted stack is reported by name only with its stack ID, so by name
// it does not exist either.
func (w *awsWorld) StackExists(ctx context.Context, p gates.Place, stack string) (bool, error) {
	resp, err := w.cloudFormation(p).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return false, nil
		}
		return false, err
	}
	for _, s := range resp.Stacks {
		if gates.StackCreated(string(s.StackStatus)) {
			return true, nil
		}
	}
	return false, nil
}

// Ledger implements gates.LedgerReader: the two-phase ledger the alias
// controller writes, read with GetParameter; a ParameterNotFound error
// ("The parameter couldn't be found",
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html)
// means the prepare release never deployed there. The lookup roles the
// pipeline reads with carry AWS's ReadOnlyAccess policy and deny only
// kms:Decrypt (the CDK bootstrap template's LookupRole; see
// docs/aws-semantics.md Q14); the ledger is a plain String parameter.
func (w *awsWorld) Ledger(ctx context.Context, p gates.Place, parameter string) (string, bool, error) {
	resp, err := w.newSSM(w.configFor(p)).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(parameter)})
	var nf *ssmtypes.ParameterNotFound
	switch {
	case errors.As(err, &nf):
		return "", false, nil
	case err != nil:
		return "", false, err
	case resp.Parameter == nil:
		return "", false, nil
	}
	return aws.ToString(resp.Parameter.Value), true, nil
}

// Stages implements gates.Observer from GetPipelineState: one call, no
// pagination, so the answer does not depend on how many executions the
// pipeline has had. A stage is in a rollback while its latest execution is
// an in-progress ROLLBACK or a ROLLBACK execution waits to enter it
// (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_StageExecution.html,
// type: "The type of pipeline execution for the stage, such as a rollback
// pipeline execution."). Its bake starts when its current execution's
// actions have all succeeded.
func (w *awsWorld) Stages(ctx context.Context) (map[string]gates.StageState, error) {
	resp, err := w.pipe.GetPipelineState(ctx, &codepipeline.GetPipelineStateInput{Name: aws.String(w.pipeline)})
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	if v := aws.ToInt32(resp.PipelineVersion); v != w.version {
		w.version, w.targets = v, map[string]bool{}
	}
	w.mu.Unlock()
	out := map[string]gates.StageState{}
	for _, s := range resp.StageStates {
		var st gates.StageState
		latest := s.LatestExecution
		if latest != nil && latest.Type == cptypes.ExecutionTypeRollback && latest.Status == cptypes.StageExecutionStatusInProgress {
			st.Rollback = true
		}
		if c := s.BeforeEntryConditionState; c != nil && c.LatestExecution != nil && c.LatestExecution.Status == cptypes.ConditionExecutionStatusOverridden {
			st.EntryOverridden = true
		}
		inbound := slices.Clone(s.InboundExecutions)
		if s.InboundExecution != nil {
			inbound = append(inbound, *s.InboundExecution)
		}
		for _, e := range inbound {
			if e.Type == cptypes.ExecutionTypeRollback {
				st.Rollback = true
			}
		}
		if latest != nil && latest.Status == cptypes.StageExecutionStatusInProgress && len(s.ActionStates) > 0 {
			done := true
			var last time.Time
			for _, a := range s.ActionStates {
				e := a.LatestExecution
				if e == nil || e.Status != cptypes.ActionExecutionStatusSucceeded {
					done = false
					break
				}
				if t := aws.ToTime(e.LastStatusChange); t.After(last) {
					last = t
				}
			}
			if done {
				st.BakeStart = last
			}
		}
		out[aws.ToString(s.StageName)] = st
	}
	return out, nil
}

// publish writes one EntryBlocked datum per stage, one BakeBreached datum
// per stage that bakes through a condition (not BakeAction), and the
// controller's Heartbeat, 1000 per call at most.
func (w *awsWorld) publish(ctx context.Context, cfg *gates.Config, ds []gates.Decision, now time.Time) error {
	pipeline := cfg.Pipeline
	bakeAction := map[string]bool{}
	for _, s := range cfg.Stages {
		bakeAction[s.Name] = s.BakeAction
	}
	data := []cwtypes.MetricDatum{{MetricName: aws.String(gates.MetricHeartbeat), Timestamp: aws.Time(now), Value: aws.Float64(1), Unit: cwtypes.StandardUnitCount,
		Dimensions: []cwtypes.Dimension{{Name: aws.String("Pipeline"), Value: aws.String(pipeline)}}}}
	for _, d := range ds {
		dims := []cwtypes.Dimension{{Name: aws.String("Pipeline"), Value: aws.String(pipeline)}, {Name: aws.String("Stage"), Value: aws.String(d.Stage)}}
		data = append(data, cwtypes.MetricDatum{MetricName: aws.String(gates.MetricEntryBlocked), Dimensions: dims, Timestamp: aws.Time(now), Value: aws.Float64(oneIf(d.EntryBlocked)), Unit: cwtypes.StandardUnitCount})
		if !bakeAction[d.Stage] {
			data = append(data, cwtypes.MetricDatum{MetricName: aws.String(gates.MetricBakeBreached), Dimensions: dims, Timestamp: aws.Time(now), Value: aws.Float64(oneIf(d.BakeBreached)), Unit: cwtypes.StandardUnitCount})
		}
	}
	var errs []error
	for chunk := range slices.Chunk(data, 1000) {
		_, err := w.ownCW.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(gates.Namespace), MetricData: chunk})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func oneIf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// BakeOutput is the output variable the bake action's final reply
// carries: "passed" for a standard execution's bake, "rollback" for a
// rollback execution's (which passes at once). "outputVariables can be
// included only when there is no continuation token on the request"
// (API_PutJobSuccessResult), which is the case of a final reply.
const BakeOutput = "safepipe_bake"

// maxTargetPages bounds the action history read for one stage: 10 pages of
// 100 action executions, newest first.
const maxTargetPages = 10

// HasRollbackTarget implements gates.RollbackTargeter. A stage can roll
// back to an execution that passed it as a standard execution in the
// current structure version: "The pipeline can only roll back to a
// previous execution if the previous execution was started in the current
// pipeline structure version" and "You cannot roll back to a target
// execution ID that is a rollback execution type" (stage-rollback.html).
// The stage's bake is its last action, so the newest bake action of the
// stage that succeeded with BakeOutput "passed" is its last standard
// execution to pass it; ListActionExecutions gives its pipelineVersion
// ("The version of the pipeline where the action was run",
// API_ActionExecutionDetail), GetPipelineState the current one. Found
// once, a target stays until the version changes. Reads that do not find
// it within maxTargetPages are an error (the gate stays closed).
func (w *awsWorld) HasRollbackTarget(ctx context.Context, stage string) (bool, error) {
	w.mu.Lock()
	version, known := w.version, w.targets[stage]
	w.mu.Unlock()
	if version == 0 {
		return false, errors.New("the pipeline's structure version is not known (its state was not read)")
	}
	if known {
		return true, nil
	}
	in := &codepipeline.ListActionExecutionsInput{PipelineName: aws.String(w.pipeline), MaxResults: aws.Int32(100)}
	for page := 0; page < maxTargetPages; page++ {
		resp, err := w.pipe.ListActionExecutions(ctx, in)
		if err != nil {
			return false, err
		}
		for _, d := range resp.ActionExecutionDetails {
			if aws.ToString(d.StageName) != stage || d.Status != cptypes.ActionExecutionStatusSucceeded || !strings.HasPrefix(aws.ToString(d.ActionName), "Bake") {
				continue
			}
			if d.Output == nil || d.Output.OutputVariables[BakeOutput] != "passed" {
				continue // a rollback execution's bake, or not safepipe's
			}
			has := aws.ToInt32(d.PipelineVersion) == version
			if has {
				w.mu.Lock()
				w.targets[stage] = true
				w.mu.Unlock()
			}
			return has, nil
		}
		if resp.NextToken == nil {
			return false, nil // the stage never passed: no target
		}
		in.NextToken = resp.NextToken
	}
	return false, fmt.Errorf("no bake of %s passed in the last %d action executions", stage, maxTargetPages*100)
}
