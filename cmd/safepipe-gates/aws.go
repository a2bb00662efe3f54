package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
		GetPipelineExecution(context.Context, *codepipeline.GetPipelineExecutionInput, ...func(*codepipeline.Options)) (*codepipeline.GetPipelineExecutionOutput, error)
		RollbackStage(context.Context, *codepipeline.RollbackStageInput, ...func(*codepipeline.Options)) (*codepipeline.RollbackStageOutput, error)
		ListPipelineExecutions(context.Context, *codepipeline.ListPipelineExecutionsInput, ...func(*codepipeline.Options)) (*codepipeline.ListPipelineExecutionsOutput, error)
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
	// the version changes), scanned when the last scan is older than a
	// round; execVersions caches executions' versions and types.
	version      int32
	targets      map[string]bool
	scanned      time.Time
	scanErr      error
	execVersions map[string]execInfo
	// rollbackTargets caches each rollback execution's target; ordered
	// remembers when each rollback was last ordered ("stage\x00target").
	rollbackTargets map[string]string
	ordered         map[string]time.Time
}

// execInfo is what GetPipelineExecution says of an execution.
type execInfo struct {
	version  int32
	standard bool
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
		if latest != nil {
			st.Execution, st.ExecutionType, st.Status = aws.ToString(latest.PipelineExecutionId), string(latest.Type), string(latest.Status)
			if st.ExecutionType == "" {
				// "type … Required: No" (API_StageExecution): an execution
				// without one is a standard execution, never a trigger.
				st.ExecutionType = gates.ExecutionStandard
			}
		}
		acting := slices.ContainsFunc(s.ActionStates, func(a cptypes.ActionState) bool {
			return a.LatestExecution != nil && a.LatestExecution.Status == cptypes.ActionExecutionStatusInProgress
		})
		if c := s.BeforeEntryConditionState; latest != nil && latest.Status == cptypes.StageExecutionStatusInProgress && !acting &&
			c != nil && c.LatestExecution != nil && c.LatestExecution.Status == cptypes.ConditionExecutionStatusInProgress {
			st.EntryWaiting = true
		}
		if latest != nil && latest.Type == cptypes.ExecutionTypeRollback && latest.Status == cptypes.StageExecutionStatusInProgress && !st.EntryWaiting {
			st.RollbackEntered = true
		}
		if latest != nil && latest.Type == cptypes.ExecutionTypeRollback && latest.Status == cptypes.StageExecutionStatusInProgress {
			st.Rollback = true
		}
		if latest != nil && latest.Status == cptypes.StageExecutionStatusInProgress {
			st.Running = true
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
// carries: "passed" for the last part of a standard execution's bake,
// "part" for an earlier part, "rollback" for a rollback execution's
// (which passes at once). "outputVariables can be included only when
// there is no continuation token on the request"
// (API_PutJobSuccessResult), which is the case of a final reply, and they
// are kept because each bake action declares a variable namespace ("You
// configure an action to produce variables by declaring a namespace for
// the action", reference-variables.html).
const BakeOutput = "safepipe_bake"

// maxTargetPages bounds the action history read in one scan: 10 pages of
// 100 action executions.
const maxTargetPages = 10

// scanEvery is how long a scan of the action history stands for every
// stage (a round of the controller).
const scanEvery = 50 * time.Second

// HasRollbackTarget implements gates.RollbackTargeter. A stage can roll
// back to a standard execution that passed it and was started in the
// current structure version: "The pipeline can only roll back to a
// previous execution if the previous execution was started in the current
// pipeline structure version" and "You cannot roll back to a target
// execution ID that is a rollback execution type" (stage-rollback.html).
// The stage's bake is its last action: a bake action of the stage whose
// final reply said "passed" marks an execution that passed it.
// ListActionExecutions lists them (its order is not documented, so a scan
// reads every page up to maxTargetPages); GetPipelineExecution gives each
// candidate execution's version ("The version number of the pipeline with
// the specified pipeline execution") and type; GetPipelineState the
// current version. One scan, once a round, answers every stage; a target
// found stays one until the version changes. A scan that stops at its
// bound without finding one is an error (the gate stays closed).
func (w *awsWorld) HasRollbackTarget(ctx context.Context, stage string) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.version == 0 {
		return false, errors.New("the pipeline's structure version is not known (its state was not read)")
	}
	if w.targets[stage] {
		return true, nil
	}
	if time.Since(w.scanned) > scanEvery {
		w.scanned = time.Now()
		w.scanErr = w.scanTargets(ctx)
	}
	if w.targets[stage] {
		return true, nil
	}
	return false, w.scanErr
}

// scanTargets reads the action history for passed bakes of the current
// version (w.mu held).
func (w *awsWorld) scanTargets(ctx context.Context) error {
	in := &codepipeline.ListActionExecutionsInput{PipelineName: aws.String(w.pipeline), MaxResults: aws.Int32(100)}
	if w.execVersions == nil {
		w.execVersions = map[string]execInfo{}
	}
	for page := 0; page < maxTargetPages; page++ {
		resp, err := w.pipe.ListActionExecutions(ctx, in)
		if err != nil {
			return err
		}
		for _, d := range resp.ActionExecutionDetails {
			stage := aws.ToString(d.StageName)
			if w.targets[stage] || d.Status != cptypes.ActionExecutionStatusSucceeded || !strings.HasPrefix(aws.ToString(d.ActionName), "Bake") ||
				d.Output == nil || d.Output.OutputVariables[BakeOutput] != "passed" || aws.ToInt32(d.PipelineVersion) != w.version {
				continue
			}
			id := aws.ToString(d.PipelineExecutionId)
			info, ok := w.execVersions[id]
			if !ok {
				out, err := w.pipe.GetPipelineExecution(ctx, &codepipeline.GetPipelineExecutionInput{PipelineName: aws.String(w.pipeline), PipelineExecutionId: aws.String(id)})
				if err != nil {
					return err
				}
				if out.PipelineExecution != nil {
					info = execInfo{version: aws.ToInt32(out.PipelineExecution.PipelineVersion), standard: out.PipelineExecution.ExecutionType != cptypes.ExecutionTypeRollback}
				}
				w.execVersions[id] = info
			}
			if info.version == w.version && info.standard {
				w.targets[stage] = true
			}
		}
		if resp.NextToken == nil {
			return nil
		}
		in.NextToken = resp.NextToken
	}
	return fmt.Errorf("the last %d action executions were read without finding a passed bake of every stage", maxTargetPages*100)
}

// BakeTimes implements gates.BakeTimer from what CodePipeline records: the
// stage's running execution (GetPipelineState's latestExecution, with its
// type: "The type of pipeline execution for the stage, such as a rollback
// pipeline execution", API_StageExecution) and the start of its bake
// actions (ListActionExecutions filtered by that execution; startTime:
// "The start time of the action execution", API_ActionExecutionDetail).
// A rollback waiting to enter the stage is not the running execution.
func (w *awsWorld) BakeTimes(ctx context.Context, req gates.BakeRequest) (gates.BakeTimes, error) {
	state, err := w.pipe.GetPipelineState(ctx, &codepipeline.GetPipelineStateInput{Name: aws.String(w.pipeline)})
	if err != nil {
		return gates.BakeTimes{}, err
	}
	var latest *cptypes.StageExecution
	for _, s := range state.StageStates {
		if aws.ToString(s.StageName) == req.Stage {
			latest = s.LatestExecution
		}
	}
	if latest == nil || latest.PipelineExecutionId == nil {
		return gates.BakeTimes{}, fmt.Errorf("stage %s has no running execution", req.Stage)
	}
	if latest.Type == cptypes.ExecutionTypeRollback {
		return gates.BakeTimes{Rollback: true}, nil
	}
	first := gates.BakeRequest{Stage: req.Stage, Part: 1, Parts: req.Parts, Minutes: req.Minutes}
	var out gates.BakeTimes
	in := &codepipeline.ListActionExecutionsInput{PipelineName: aws.String(w.pipeline), MaxResults: aws.Int32(100),
		Filter: &cptypes.ActionExecutionFilter{PipelineExecutionId: latest.PipelineExecutionId}}
	for page := 0; page < maxTargetPages && (out.PartStart.IsZero() || out.BakeStart.IsZero()); page++ {
		resp, err := w.pipe.ListActionExecutions(ctx, in)
		if err != nil {
			return gates.BakeTimes{}, err
		}
		for _, d := range resp.ActionExecutionDetails {
			if aws.ToString(d.StageName) != req.Stage {
				continue
			}
			switch aws.ToString(d.ActionName) {
			case gates.BakeActionName(req):
				out.PartStart = aws.ToTime(d.StartTime)
			}
			if aws.ToString(d.ActionName) == gates.BakeActionName(first) {
				out.BakeStart = aws.ToTime(d.StartTime)
			}
		}
		if resp.NextToken == nil {
			break
		}
		in.NextToken = resp.NextToken
	}
	if out.PartStart.IsZero() || out.BakeStart.IsZero() {
		return gates.BakeTimes{}, fmt.Errorf("execution %s has no start recorded for %s of stage %s", aws.ToString(latest.PipelineExecutionId), gates.BakeActionName(req), req.Stage)
	}
	return out, nil
}

// RollbackTargetOf implements gates.StageRoller: the execution a rollback
// execution rolls back to, from GetPipelineExecution's rollbackMetadata
// ("rollbackTargetPipelineExecutionId: The pipeline execution ID to which
// the stage will be rolled back", API_PipelineRollbackMetadata). A
// rollback's target never changes: it is read once.
func (w *awsWorld) RollbackTargetOf(ctx context.Context, rollback string) (string, error) {
	w.mu.Lock()
	t, ok := w.rollbackTargets[rollback]
	w.mu.Unlock()
	if ok {
		return t, nil
	}
	out, err := w.pipe.GetPipelineExecution(ctx, &codepipeline.GetPipelineExecutionInput{PipelineName: aws.String(w.pipeline), PipelineExecutionId: aws.String(rollback)})
	if err != nil {
		return "", err
	}
	e := out.PipelineExecution
	if e == nil || e.ExecutionType != cptypes.ExecutionTypeRollback || e.RollbackMetadata == nil || aws.ToString(e.RollbackMetadata.RollbackTargetPipelineExecutionId) == "" {
		return "", fmt.Errorf("execution %s is not a rollback with a target", rollback)
	}
	t = aws.ToString(e.RollbackMetadata.RollbackTargetPipelineExecutionId)
	w.mu.Lock()
	if w.rollbackTargets == nil {
		w.rollbackTargets = map[string]string{}
	}
	w.rollbackTargets[rollback] = t
	w.mu.Unlock()
	return t, nil
}

// maxDeployedPages bounds the executions read to tell what a stage runs.
const maxDeployedPages = 3

// Deployed implements gates.StageRoller: the release a stage runs, from
// the executions that succeeded in it (ListPipelineExecutions with the
// filter succeededInStage: "Filter for pipeline executions where the stage
// was successful in the current pipeline version",
// API_PipelineExecutionFilter). The order of the list is not documented:
// the one that started last is taken; a rollback execution stands for its
// target (rollbackMetadata). None in the current version is "".
func (w *awsWorld) Deployed(ctx context.Context, stage string) (string, error) {
	in := &codepipeline.ListPipelineExecutionsInput{
		PipelineName: aws.String(w.pipeline), MaxResults: aws.Int32(100),
		Filter: &cptypes.PipelineExecutionFilter{SucceededInStage: &cptypes.SucceededInStageFilter{StageName: aws.String(stage)}},
	}
	var last *cptypes.PipelineExecutionSummary
	for range maxDeployedPages {
		resp, err := w.pipe.ListPipelineExecutions(ctx, in)
		if err != nil {
			return "", err
		}
		for i := range resp.PipelineExecutionSummaries {
			e := &resp.PipelineExecutionSummaries[i]
			if last == nil || aws.ToTime(e.StartTime).After(aws.ToTime(last.StartTime)) {
				last = e
			}
		}
		if resp.NextToken == nil {
			break
		}
		in.NextToken = resp.NextToken
	}
	if last == nil {
		return "", nil
	}
	if last.ExecutionType == cptypes.ExecutionTypeRollback {
		if last.RollbackMetadata == nil || aws.ToString(last.RollbackMetadata.RollbackTargetPipelineExecutionId) == "" {
			return "", fmt.Errorf("rollback execution %s in stage %s has no target", aws.ToString(last.PipelineExecutionId), stage)
		}
		return aws.ToString(last.RollbackMetadata.RollbackTargetPipelineExecutionId), nil
	}
	return aws.ToString(last.PipelineExecutionId), nil
}

// maxReachedPages bounds the action executions read to tell whether one
// execution reached a stage.
const maxReachedPages = 5

// Reached implements gates.StageRoller: whether the execution ran an
// action in the stage (ListActionExecutions filtered by the execution:
// "pipelineExecutionId: The pipeline execution ID used to filter action
// execution history", API_ActionExecutionFilter). An execution whose
// history runs past the bound is an error, never "not reached".
func (w *awsWorld) Reached(ctx context.Context, execution, stage string) (bool, error) {
	in := &codepipeline.ListActionExecutionsInput{
		PipelineName: aws.String(w.pipeline), MaxResults: aws.Int32(100),
		Filter: &cptypes.ActionExecutionFilter{PipelineExecutionId: aws.String(execution)},
	}
	for range maxReachedPages {
		resp, err := w.pipe.ListActionExecutions(ctx, in)
		if err != nil {
			return false, err
		}
		for _, d := range resp.ActionExecutionDetails {
			if aws.ToString(d.StageName) == stage {
				return true, nil
			}
		}
		if resp.NextToken == nil {
			return false, nil
		}
		in.NextToken = resp.NextToken
	}
	return false, fmt.Errorf("execution %s has more than %d action executions", execution, maxReachedPages*100)
}

// reorderAfter is how long the controller waits before it orders the same
// rollback again: GetPipelineState may not show a rollback that has just
// been started, and a second order would start a second rollback.
const reorderAfter = 5 * time.Minute

// rollBack carries out the decisions that roll a stage back
// (Decision.RollBackTo): RollbackStage ("Rolls back a stage execution",
// API_RollbackStage) to the target the failed stage rolled back to, once
// per reorderAfter. Each order and refusal is a log line, not a function
// error: Lambda retries an asynchronous invocation that fails, and a
// retry overlapping the next round would order twice. A refusal — "the
// pipeline is busy handling ongoing activities" (ConflictException), a
// running stage, an outdated target after the pipeline's definition
// changed (PipelineExecutionOutdatedException) — changes nothing: the
// region's entries stay closed, the next round decides again, and the log
// says what an operator must do.
func (w *awsWorld) rollBack(ctx context.Context, ds []gates.Decision, log io.Writer, now time.Time) {
	enc := json.NewEncoder(log)
	for _, d := range ds {
		if d.RollBackTo == "" {
			continue
		}
		key := d.Stage + "\x00" + d.RollBackTo
		w.mu.Lock()
		if at, ok := w.ordered[key]; ok && now.Sub(at) < reorderAfter {
			w.mu.Unlock()
			continue
		}
		if w.ordered == nil {
			w.ordered = map[string]time.Time{}
		}
		w.ordered[key] = now
		w.mu.Unlock()
		line := struct {
			Time     string `json:"time"`
			Stage    string `json:"stage"`
			RollBack string `json:"rollBackTo"`
			Started  string `json:"rollbackExecution,omitempty"`
			Refused  string `json:"refused,omitempty"`
		}{Time: now.Format(time.RFC3339), Stage: d.Stage, RollBack: d.RollBackTo}
		out, err := w.pipe.RollbackStage(ctx, &codepipeline.RollbackStageInput{
			PipelineName: aws.String(w.pipeline), StageName: aws.String(d.Stage), TargetPipelineExecutionId: aws.String(d.RollBackTo),
		})
		if err != nil {
			line.Refused = err.Error()
		} else {
			line.Started = aws.ToString(out.PipelineExecutionId)
		}
		_ = enc.Encode(line)
	}
}
