package gates

// Where is where the gate controller makes a call, and so which role must
// allow it.
type Where int

const (
	// InPipeline: with the controller's own role, on any resource ("*"):
	// the action has no resource type, or (DescribeAlarms for composite
	// alarms) must be granted on "*".
	InPipeline Where = iota + 1
	// OnPipeline: with the controller's own role, on the pipeline it
	// watches.
	OnPipeline
	// Watched: with the watch role of every target account.
	Watched
	// ToWatchRoles: with the controller's own role, on the watch roles.
	ToWatchRoles
	// OnRolledBackStages: with the controller's own role, on the stages
	// that go back with a later one (Stage.RollsBack), each a resource of
	// type stage ("arn:${Partition}:codepipeline:${Region}:${Account}:${PipelineName}/${StageName}",
	// service authorization reference); a pipeline with none grants none.
	OnRolledBackStages
)

// Call is one AWS API call of the gate controller, as the IAM action that
// authorizes it.
type Call struct {
	// Action is the IAM action, "service:Operation".
	Action string
	// Where is the role, and the resource, it is made with.
	Where []Where
}

// ControllerCalls is every call the gate controller (cmd/safepipe-gates)
// makes. Its tests check that every operation of its AWS clients is here;
// the pipeline's tests check that the roles it synthesizes allow each one
// where it is made. One list, so that a call added to the controller
// without a grant fails a test, not a production bake.
var ControllerCalls = []Call{
	{"cloudwatch:DescribeAlarms", []Where{InPipeline, Watched}},
	{"cloudwatch:DescribeAlarmHistory", []Where{InPipeline, Watched}},
	{"cloudwatch:PutMetricData", []Where{InPipeline}},
	{"cloudformation:DescribeStacks", []Where{Watched}},
	{"ssm:GetParameter", []Where{Watched}},
	{"codepipeline:GetPipelineState", []Where{OnPipeline}},
	{"codepipeline:ListActionExecutions", []Where{OnPipeline}},
	{"codepipeline:GetPipelineExecution", []Where{OnPipeline}},
	{"codepipeline:ListPipelineExecutions", []Where{OnPipeline}},
	{"codepipeline:RollbackStage", []Where{OnRolledBackStages}},
	{"codepipeline:PutJobSuccessResult", []Where{InPipeline}},
	{"codepipeline:PutJobFailureResult", []Where{InPipeline}},
	{"sts:AssumeRole", []Where{ToWatchRoles}},
}
