package deploy

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/constructs/pipeline"
	"github.com/safepipe/safepipe/internal/synth"
)

// ServerRevisionProps configure a CodeDeploy revision that the pipeline
// deploys to a server deployment group after the target's stacks deploy.
type ServerRevisionProps struct {
	// Deployment is the pipeline's deployment this revision belongs to.
	// Required.
	Deployment pipeline.Deployment
	// Path is the revision's directory, with appspec.yml at its root; it
	// is published as a zip file asset to the target account (CDK
	// Pipelines publishes it in the Assets stage). Required.
	Path string
	// Servers are the deployment groups, created with a Name. Required.
	Servers ServerDeployment
	// OneBox sends the revision to the one-box group (the one-box step);
	// otherwise to the fleet's. Default: false.
	OneBox bool
	// Timeout is how long the pipeline step waits for the deployment.
	// Default: 7 h 30 min (CodePipeline stops CodeBuild actions after 8 h).
	Timeout time.Duration
	// InstanceRoles are the roles of the instances the groups deploy to,
	// which may read the revision (its object only): the CodeDeploy agent
	// on each instance downloads it with the instance's credentials.
	// Default: the roles of the groups' Auto Scaling groups (required when
	// the groups select their instances by tag).
	InstanceRoles []awsiam.IRole
}

// ServerRevision is the revision and the deployer role the pipeline
// assumes in the target account.
type ServerRevision interface {
	constructs.Construct
	// Step returns a new pipeline step that deploys the revision and waits
	// for the deployment: return it from the Service's DeploySteps (nil on
	// error). Every such step of a pipeline runs on one shared CodeBuild
	// project, with its target in the action's environment, so that a
	// global zonal pipeline does not carry a project, a role and a policy
	// per target.
	Step() pipelines.Step
	// Err reports invalid props (also synth errors on the construct).
	Err() error
}

type serverRevision struct {
	constructs.Construct
	d       pipeline.Deployment
	env     map[string]string // the step's action environment
	timeout time.Duration
	err     error
}

func (r *serverRevision) Err() error { return r.err }

// DeployerPurpose is the purpose in the deployer role's name
// (pipeline.RoleName).
const DeployerPurpose = "deployer"

// NewServerRevision publishes the revision and creates the deployer role
// in scope (a construct of the target's stack).
func NewServerRevision(scope constructs.Construct, id *string, props *ServerRevisionProps) ServerRevision {
	r := &serverRevision{}
	constructs.NewConstruct_Override(r, scope, id)
	var p ServerRevisionProps
	if props != nil {
		p = *props
	}
	if p.Timeout == 0 {
		p.Timeout = 7*time.Hour + 30*time.Minute
	}
	var errs []error
	if p.Path == "" {
		errs = append(errs, errors.New("deploy: ServerRevisionProps.Path is empty"))
	}
	var sd *serverDeployment
	switch s := p.Servers.(type) {
	case *serverDeployment:
		sd = s
	default:
		errs = append(errs, errors.New("deploy: ServerRevisionProps.Servers must come from NewServerDeployment"))
	}
	var app, group string
	if sd != nil {
		var oneBox, fleet string
		app, oneBox, fleet = sd.names()
		group = fleet
		if p.OneBox {
			group = oneBox
			if sd.OneBox() == nil {
				errs = append(errs, errors.New("deploy: ServerRevisionProps.OneBox is set and the servers have no one-box group"))
			}
		}
		if app == "" {
			errs = append(errs, errors.New("deploy: ServerRevisionProps.Servers has no Name; name the application and groups (ServerProps.Name) so that the pipeline can deploy to them"))
		}
	}
	d := p.Deployment
	if d.Account == "" || d.PipelineName == "" || d.StageName == "" {
		errs = append(errs, errors.New("deploy: ServerRevisionProps.Deployment is not a pipeline deployment (pass the Deployment the pipeline gave the service)"))
	}
	if p.Timeout < time.Minute || p.Timeout > 8*time.Hour {
		errs = append(errs, fmt.Errorf("deploy: ServerRevisionProps.Timeout is %s; CodePipeline stops CodeBuild actions after 8 h", p.Timeout))
	}
	if r.err = errors.Join(errs...); r.err != nil {
		synth.Report(r, r.err)
		return r
	}
	r.d, r.timeout = d, p.Timeout
	asset := awss3assets.NewAsset(r, jsii.String("Bundle"), &awss3assets.AssetProps{Path: jsii.String(p.Path)})
	role := pipeline.NewTargetRole(r, "DeployerRole", DeployerPurpose, d)
	partition := d.Region.Partition
	if partition == "" {
		partition = "aws"
	}
	groupArn := fmt.Sprintf("arn:%s:codedeploy:%s:%s:deploymentgroup:%s/%s", partition, d.Target.Region, d.Account, app, group)
	// CreateDeployment with overrideAlarmConfiguration: "you need the
	// UpdateDeploymentGroup IAM permission"
	// (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeployment.html).
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("codedeploy:CreateDeployment", "codedeploy:GetDeployment", "codedeploy:ListDeployments", "codedeploy:StopDeployment", "codedeploy:UpdateDeploymentGroup"),
		Resources: jsii.Strings(groupArn),
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("codedeploy:GetDeploymentConfig"),
		Resources: jsii.Strings(fmt.Sprintf("arn:%s:codedeploy:%s:%s:deploymentconfig:*", partition, d.Target.Region, d.Account)),
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("codedeploy:RegisterApplicationRevision", "codedeploy:GetApplicationRevision"),
		Resources: jsii.Strings(fmt.Sprintf("arn:%s:codedeploy:%s:%s:application:%s", partition, d.Target.Region, d.Account, app)),
	}))
	// The revision object alone, to the deployer (CreateDeployment names
	// it) and to the instances: "This role is needed by the CodeDeploy
	// agent on EC2 instances" to "download revision" from S3 (the managed
	// policy AmazonEC2RoleforAWSCodeDeploy's description; the agent uses
	// the instance profile's credentials). Asset.GrantRead would grant the
	// whole CDK asset bucket.
	revisionObject := asset.Bucket().ArnForObjects(asset.S3ObjectKey())
	readRevision := func() awsiam.PolicyStatement {
		return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("s3:GetObject", "s3:GetObjectVersion"),
			Resources: &[]*string{revisionObject},
		})
	}
	role.AddToPolicy(readRevision())
	instances := p.InstanceRoles
	if len(instances) == 0 {
		var err error
		if instances, err = sd.instanceRoles(); err != nil {
			r.err = err
			synth.Report(r, r.err)
			return r
		}
	}
	for _, ir := range instances {
		ir.AddToPrincipalPolicy(readRevision())
	}
	// The revision to deploy is an output of the stack, which the step
	// reads when it runs (ServerDeployScript), not a value in the step's
	// action: see revisionOutput.
	stack := awscdk.Stack_Of(r)
	stackName := *stack.StackName()
	if *awscdk.Token_IsUnresolved(jsii.String(stackName)) {
		r.err = fmt.Errorf("deploy: the revision's stack has no name known at synth (%s); the pipeline's step must name the stack it reads the revision from: give the stack a StackName", stackName)
		synth.Report(r, r.err)
		return r
	}
	output := revisionOutput(group)
	out := awscdk.NewCfnOutput(r, jsii.String("Revision"), &awscdk.CfnOutputProps{
		Value:       jsii.String(*asset.AssetHash() + ".zip"),
		Description: jsii.String("safepipe: the CodeDeploy revision (object key in the CDK asset bucket) that the pipeline deploys to " + group),
	})
	out.OverrideLogicalId(jsii.String(output))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("cloudformation:DescribeStacks"),
		Resources: jsii.Strings(fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/*", partition, d.Target.Region, d.Account, stackName)),
	}))
	if pol, ok := role.Node().TryFindChild(jsii.String("DefaultPolicy")).(awsiam.Policy); ok {
		synth.NagSuppress(pol, "AwsSolutions-IAM5", "Reading the revision's asset object (CDK's grantRead on the asset bucket), and the deployment configs of the region, which a deployment reads.")
	}
	// Everything else the step needs is known at synth and the same for
	// every release: the names are set, and the asset goes to the CDK
	// bootstrap bucket of the target, named with the qualifier the stack's
	// synthesizer uses ("cdk-${Qualifier}-assets-${AWS::AccountId}-${AWS::Region}",
	// aws-cdk-lib DefaultStackSynthesizer.DEFAULT_FILE_ASSETS_BUCKET_NAME;
	// the qualifier is the synthesizer's prop, else the context key
	// "@aws-cdk/core:bootstrapQualifier", else the default).
	qualifier := stack.Synthesizer().BootstrapQualifier()
	if qualifier == nil || *qualifier == "" {
		r.err = fmt.Errorf("deploy: stack %s has no bootstrap qualifier (its synthesizer is not CDK's default): the step cannot name the asset bucket the revision goes to", stackName)
		synth.Report(r, r.err)
		return r
	}
	r.env = map[string]string{
		"SAFEPIPE_DEPLOYER_ROLE":    pipeline.RoleArn(DeployerPurpose, d),
		"SAFEPIPE_REGION":           d.Target.Region,
		"SAFEPIPE_APPLICATION":      app,
		"SAFEPIPE_GROUP":            group,
		"SAFEPIPE_BUCKET":           fmt.Sprintf("cdk-%s-assets-%s-%s", *qualifier, d.Account, d.Target.Region),
		"SAFEPIPE_STACK":            stackName,
		"SAFEPIPE_OUTPUT":           output,
		"SAFEPIPE_PIPELINE":         d.PipelineName,
		"SAFEPIPE_PIPELINE_REGION":  d.PipelineRegion,
		"SAFEPIPE_STAGE":            d.StageName,
		"SAFEPIPE_DEADLINE_MINUTES": strconv.Itoa(int(p.Timeout/time.Minute) - 5),
	}
	return r
}

// revisionOutput is the output of the service stack that names the
// revision to deploy to group: "SafepipeRevision" and the group's letters
// and digits (output names are alphanumeric).
//
// The revision is read from the stack when the step runs, not written into
// the step's action, for two reasons. A value that changes with every
// release in an action's configuration changes the pipeline's structure
// with every release, and "The pipeline can only roll back to a previous
// execution if the previous execution was started in the current pipeline
// structure version."
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html):
// no stage could ever roll back. And in a rollback execution "CodePipeline
// will use the variables and artifacts from the execution to which it is
// rolling back" (same page): the stage's stack actions redeploy the earlier
// template, whose output names the earlier revision, which the step then
// deploys.
func revisionOutput(group string) string {
	b := []byte("SafepipeRevision")
	for _, c := range []byte(group) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b = append(b, c)
		}
	}
	return string(b)
}

// DeployerProfile is the AWS CLI profile the deploy step's commands run
// with: the deployer role's credentials.
const DeployerProfile = "safepipe-deployer"

// Step implements ServerRevision.
func (r *serverRevision) Step() pipelines.Step {
	if r.err != nil {
		return nil
	}
	s := &serverDeployStep{rev: r}
	pipelines.NewStep_Override(s, jsii.String("Deploy-"+r.d.Target.ID()))
	return s
}

// serverDeployStep is a CDK Pipelines step that renders as a CodeBuild
// action on the pipeline's shared deploy project
// (pipelines.ICodePipelineActionFactory).
type serverDeployStep struct {
	pipelines.Step
	rev *serverRevision
}

// ProduceAction implements pipelines.ICodePipelineActionFactory.
func (s *serverDeployStep) ProduceAction(stage awscodepipeline.IStage, options *pipelines.ProduceActionOptions) *pipelines.CodePipelineActionFactoryResult {
	project, role := deployProject(options.Scope, s.rev.d, options.Pipeline.Pipeline().Role())
	env := map[string]*awscodebuild.BuildEnvironmentVariable{}
	for k, v := range s.rev.env {
		env[k] = &awscodebuild.BuildEnvironmentVariable{Value: jsii.String(v)}
	}
	stage.AddAction(awscodepipelineactions.NewCodeBuildAction(&awscodepipelineactions.CodeBuildActionProps{
		ActionName:           options.ActionName,
		RunOrder:             options.RunOrder,
		Project:              project,
		Role:                 role,
		Input:                options.Artifacts.ToCodePipeline(options.Pipeline.CloudAssemblyFileSet()),
		EnvironmentVariables: &env,
	}))
	return &pipelines.CodePipelineActionFactoryResult{RunOrdersConsumed: jsii.Number(1), Project: project}
}

// deployProjectID is the shared deploy project's construct ID in the
// pipeline's stack.
const deployProjectID = "SafepipeServerDeploy"

// deployProject is the pipeline's one deploy project and the one role its
// actions run as (without it, CDK gives every action a role and a
// policy), created on first use; each use lets the project assume the
// deployer roles of one more account.
//
// Who may assume what: the action role only the pipeline's role (as CDK
// Pipelines' own action roles: CodePipeline runs an action with the
// pipeline's role assuming the action's), and the project runs as a role
// named as the pipeline's "deployer" step roles, the only roles the deployer roles
// in the targets trust (pipeline.NewTargetRole).
func deployProject(scope constructs.Construct, d pipeline.Deployment, pipelineRole awsiam.IRole) (awscodebuild.PipelineProject, awsiam.IRole) {
	stack := awscdk.Stack_Of(scope)
	project, ok := stack.Node().TryFindChild(jsii.String(deployProjectID)).(awscodebuild.PipelineProject)
	role, _ := stack.Node().TryFindChild(jsii.String(deployProjectID + "ActionRole")).(awsiam.Role)
	if !ok {
		role = awsiam.NewRole(stack, jsii.String(deployProjectID+"ActionRole"), &awsiam.RoleProps{
			Description: jsii.String("safepipe: the role the pipeline's revision deploy actions run as (it starts the shared deploy project)"),
			AssumedBy:   awsiam.NewArnPrincipal(pipelineRole.RoleArn()),
		})
		project = awscodebuild.NewPipelineProject(stack, jsii.String(deployProjectID), &awscodebuild.PipelineProjectProps{
			Role: pipeline.NewStepRole(stack, deployProjectID+"Role", d.PipelineName, DeployerPurpose, "codebuild.amazonaws.com",
				"safepipe: the server deploy project of pipeline "+d.PipelineName+" (assumes the deployer roles of the targets)"),
			Description: jsii.String("safepipe: deploys CodeDeploy revisions to the targets' deployment groups (one action per target)"),
			Environment: &awscodebuild.BuildEnvironment{ComputeType: awscodebuild.ComputeType_SMALL, BuildImage: awscodebuild.LinuxBuildImage_STANDARD_7_0()},
			Timeout:     awscdk.Duration_Hours(jsii.Number(8)),
			BuildSpec: awscodebuild.BuildSpec_FromObject(&map[string]any{
				"version": "0.2",
				"env":     map[string]any{"variables": map[string]any{"AWS_PROFILE": DeployerProfile}},
				"phases": map[string]any{"build": map[string]any{"commands": []any{
					pipeline.AssumeRoleCommand(`"$SAFEPIPE_DEPLOYER_ROLE"`, `"$SAFEPIPE_REGION"`, DeployerProfile),
					ServerDeployScript,
				}}},
			}),
		})
		project.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("codepipeline:GetPipelineState"),
			Resources: jsii.Strings(fmt.Sprintf("arn:%s:codepipeline:%s:%s:%s", partitionOf(d), d.PipelineRegion, d.PipelineAccount, d.PipelineName)),
		}))
		if pol, ok := project.Role().Node().TryFindChild(jsii.String("DefaultPolicy")).(awsiam.Policy); ok {
			synth.NagSuppress(pol, "AwsSolutions-IAM5", "The project assumes the deployer roles safepipe names safepipe-deployer-<team>-* in each target account (one per target; a wildcard keeps the policy under IAM's size limit), and writes its own CodeBuild logs and reports.")
		}
		synth.NagSuppress(project, "AwsSolutions-CB4", "The project builds nothing and keeps no artifact: it calls CodeDeploy; the pipeline's artifacts are encrypted with the pipeline's key.")
	}
	key := *project.Node().Addr() + "/" + d.Account
	if !grantedAccounts[key] {
		grantedAccounts[key] = true
		project.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("sts:AssumeRole"),
			Resources: jsii.Strings(fmt.Sprintf("arn:%s:iam::%s:role/safepipe-%s-%s-*", partitionOf(d), d.Account, DeployerPurpose, d.Alarms.Team)),
		}))
	}
	return project, role
}

// grantedAccounts remembers, per project, the accounts whose deployer
// roles it may assume (a jsii construct keeps no Go state).
var grantedAccounts = map[string]bool{}

func partitionOf(d pipeline.Deployment) string {
	if d.Region.Partition != "" {
		return d.Region.Partition
	}
	return "aws"
}

// ServerDeployScript deploys the revision that the stack SAFEPIPE_STACK
// names in its output SAFEPIPE_OUTPUT (revisionOutput: the stack the stage
// has just deployed, so in a rollback execution the earlier revision) to
// the group named by its environment (SAFEPIPE_APPLICATION, _GROUP,
// _BUCKET, with the deployer profile) and waits for the deployment to end.
//
// In a rollback execution (the stage's current execution is of type
// ROLLBACK, read with GetPipelineState, which does not page), the revision
// is the earlier one, and the deployment group's alarms — the very alarms
// that caused the rollback — would stop it. CodeDeploy documents the way
// out: "call CreateDeployment to create a new deployment that uses a
// previous application revision that is known to work, and set its alarm
// configuration to turn off alarm polling. Turning off alarm polling
// ensures that the new deployment proceeds without being blocked by the
// alarm that was generated by the previous, failed, deployment."
// (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeployment.html,
// overrideAlarmConfiguration). A deployment still in progress in the group
// is stopped first, and the script waits until it has ended, at most
// SAFEPIPE_STOP_WAIT_SECONDS (15 minutes): StopDeployment answers "Pending:
// The stop operation is pending." or "Succeeded" (API_StopDeployment), and
// "Maximum number of concurrent deployments to a deployment group: 1"
// (CodeDeploy quotas), so a deployment created before the stopped one has
// ended would be refused. Every output is read as
// JSON-free text with a single value; "None" (the AWS CLI's empty value)
// never counts as a type or a status.
const ServerDeployScript = `set -eu
cat > safepipe-deploy.sh <<'SAFEPIPE'
set -eu
# The deadline counts from the step's start, the stop wait included.
deadline=$(( $(date +%s) + SAFEPIPE_DEADLINE_MINUTES * 60 ))
kind=$(env -u AWS_PROFILE aws codepipeline get-pipeline-state --name "$SAFEPIPE_PIPELINE" --region "$SAFEPIPE_PIPELINE_REGION" --query "stageStates[?stageName=='$SAFEPIPE_STAGE'].latestExecution.type | [0]" --output text)
override=""
if [ "$kind" = ROLLBACK ]; then
  echo "safepipe: a rollback execution: deploying the earlier revision with alarm polling off"
  override="--override-alarm-configuration enabled=false"
  for old in $(aws deploy list-deployments --application-name "$SAFEPIPE_APPLICATION" --deployment-group-name "$SAFEPIPE_GROUP" --include-only-statuses Created Queued InProgress Baking Ready --query 'deployments[]' --output text); do
    [ "$old" = None ] && continue
    echo "safepipe: stopping deployment $old, still in progress"
    aws deploy stop-deployment --deployment-id "$old" --no-auto-rollback-enabled >/dev/null || true
    # StopDeployment may answer "Pending: The stop operation is pending":
    # wait for the deployment to end, since only one runs per group.
    stopped=""
    until=$(( $(date +%s) + ${SAFEPIPE_STOP_WAIT_SECONDS:-900} ))
    while :; do
      s=$(aws deploy get-deployment --deployment-id "$old" --query deploymentInfo.status --output text)
      case "$s" in Stopped|Failed|Succeeded) stopped="$s"; break ;; esac
      [ "$(date +%s)" -ge "$until" ] && break
      sleep "${SAFEPIPE_POLL_SECONDS:-30}"
    done
    if [ -z "$stopped" ]; then
      echo "safepipe: deployment $old did not stop within ${SAFEPIPE_STOP_WAIT_SECONDS:-900} s (still $s); not starting another in the group"
      exit 1
    fi
    echo "safepipe: deployment $old ended $stopped"
  done
fi
key=$(aws cloudformation describe-stacks --stack-name "$SAFEPIPE_STACK" --query "Stacks[0].Outputs[?OutputKey=='$SAFEPIPE_OUTPUT'].OutputValue | [0]" --output text)
if [ -z "$key" ] || [ "$key" = None ]; then
  echo "safepipe: stack $SAFEPIPE_STACK has no output $SAFEPIPE_OUTPUT (the revision to deploy)"
  exit 1
fi
id=$(aws deploy create-deployment --application-name "$SAFEPIPE_APPLICATION" --deployment-group-name "$SAFEPIPE_GROUP" \
  --s3-location "bucket=$SAFEPIPE_BUCKET,key=$key,bundleType=zip" $override \
  --description "safepipe $SAFEPIPE_STAGE" --query deploymentId --output text)
echo "safepipe: deployment $id to $SAFEPIPE_GROUP"
while :; do
  status=$(aws deploy get-deployment --deployment-id "$id" --query deploymentInfo.status --output text)
  case "$status" in
    Succeeded) echo "safepipe: deployment $id succeeded"; exit 0 ;;
    Failed|Stopped)
      echo "safepipe: deployment $id $status: $(aws deploy get-deployment --deployment-id "$id" --query 'deploymentInfo.errorInformation.message' --output text)"
      exit 1 ;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "safepipe: deployment $id still $status at the deadline"; exit 1; fi
  sleep "${SAFEPIPE_POLL_SECONDS:-30}"
done
SAFEPIPE
sh safepipe-deploy.sh`
