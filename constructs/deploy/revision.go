package deploy

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
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
	// is published as a zip file asset to the target account. Required.
	Path string
	// Application is the CodeDeploy application. Required.
	Application awscodedeploy.IServerApplication
	// Group is the deployment group the revision goes to (the one-box
	// group on a one-box step, the zone's or the fleet's otherwise).
	// Required.
	Group awscodedeploy.IServerDeploymentGroup
	// Timeout is how long the pipeline step waits for the deployment.
	// Default: 7 h 30 min (CodePipeline stops CodeBuild actions after 8 h).
	Timeout time.Duration
}

// ServerRevision is the revision, the deployer role the pipeline assumes
// in the target account, and the outputs its step reads.
type ServerRevision interface {
	constructs.Construct
	// Step returns a new pipeline step that deploys the revision and waits
	// for the deployment: return it from the Service's DeploySteps (nil on
	// error).
	Step() pipelines.Step
	// Err reports invalid props (also synth errors on the construct).
	Err() error
}

type serverRevision struct {
	constructs.Construct
	d       pipeline.Deployment
	outputs map[string]awscdk.CfnOutput
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
	if p.Application == nil {
		errs = append(errs, errors.New("deploy: ServerRevisionProps.Application is nil"))
	}
	if p.Group == nil {
		errs = append(errs, errors.New("deploy: ServerRevisionProps.Group is nil"))
	}
	if p.Deployment.Account == "" || p.Deployment.PipelineName == "" {
		errs = append(errs, errors.New("deploy: ServerRevisionProps.Deployment is not a pipeline deployment (pass the Deployment the pipeline gave the service)"))
	}
	if p.Timeout < time.Minute || p.Timeout > 8*time.Hour {
		errs = append(errs, fmt.Errorf("deploy: ServerRevisionProps.Timeout is %s; CodePipeline stops CodeBuild actions after 8 h", p.Timeout))
	}
	if r.err = errors.Join(errs...); r.err != nil {
		synth.Report(r, r.err)
		return r
	}
	r.d, r.timeout = p.Deployment, p.Timeout
	asset := awss3assets.NewAsset(r, jsii.String("Bundle"), &awss3assets.AssetProps{Path: jsii.String(p.Path)})
	role := pipeline.NewTargetRole(r, "DeployerRole", DeployerPurpose, p.Deployment)
	// CreateDeployment with overrideAlarmConfiguration "you need the
	// UpdateDeploymentGroup IAM permission"
	// (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeployment.html).
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("codedeploy:CreateDeployment", "codedeploy:GetDeployment", "codedeploy:ListDeployments", "codedeploy:StopDeployment", "codedeploy:UpdateDeploymentGroup"),
		Resources: jsii.Strings(*p.Group.DeploymentGroupArn()),
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("codedeploy:GetDeploymentConfig"),
		Resources: jsii.Strings(*p.Group.DeploymentConfig().DeploymentConfigArn()),
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("codedeploy:RegisterApplicationRevision", "codedeploy:GetApplicationRevision"),
		Resources: jsii.Strings(*p.Application.ApplicationArn()),
	}))
	asset.GrantRead(role)
	r.outputs = map[string]awscdk.CfnOutput{
		"SAFEPIPE_APPLICATION": awscdk.NewCfnOutput(r, jsii.String("Application"), &awscdk.CfnOutputProps{Value: p.Application.ApplicationName()}),
		"SAFEPIPE_GROUP":       awscdk.NewCfnOutput(r, jsii.String("Group"), &awscdk.CfnOutputProps{Value: p.Group.DeploymentGroupName()}),
		"SAFEPIPE_BUCKET":      awscdk.NewCfnOutput(r, jsii.String("Bucket"), &awscdk.CfnOutputProps{Value: asset.S3BucketName()}),
		"SAFEPIPE_KEY":         awscdk.NewCfnOutput(r, jsii.String("Key"), &awscdk.CfnOutputProps{Value: asset.S3ObjectKey()}),
	}
	if p, ok := role.Node().TryFindChild(jsii.String("DefaultPolicy")).(awsiam.Policy); ok {
		synth.NagSuppress(p, "AwsSolutions-IAM5", "Reading the revision's asset object (CDK's grantRead on the asset bucket's object prefix) and the deployments of this one deployment group.")
	}
	return r
}

// DeployerProfile is the AWS CLI profile the deploy step's commands run
// with: the deployer role's credentials.
const DeployerProfile = "safepipe-deployer"

// Step implements ServerRevision.
func (r *serverRevision) Step() pipelines.Step {
	if r.err != nil {
		return nil
	}
	d := r.d
	outputs := map[string]awscdk.CfnOutput{}
	for k, v := range r.outputs {
		outputs[k] = v
	}
	statements := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("sts:AssumeRole"),
			Resources: jsii.Strings(pipeline.RoleArn(DeployerPurpose, d)),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("codepipeline:GetPipelineState"),
			Resources: jsii.Strings(fmt.Sprintf("arn:%s:codepipeline:%s:%s:%s", d.Region.Partition, d.PipelineRegion, d.PipelineAccount, d.PipelineName)),
		}),
	}
	minutes := int(r.timeout / time.Minute)
	return pipelines.NewCodeBuildStep(jsii.String("Deploy-"+d.Target.ID()), &pipelines.CodeBuildStepProps{
		Commands: jsii.Strings(pipeline.AssumeRoleCommand(pipeline.RoleArn(DeployerPurpose, d), d.Target.Region, DeployerProfile), ServerDeployScript),
		Env: &map[string]*string{
			"AWS_PROFILE":               jsii.String(DeployerProfile),
			"SAFEPIPE_PIPELINE":         jsii.String(d.PipelineName),
			"SAFEPIPE_PIPELINE_REGION":  jsii.String(d.PipelineRegion),
			"SAFEPIPE_STAGE":            jsii.String(d.StageName),
			"SAFEPIPE_DEADLINE_MINUTES": jsii.String(strconv.Itoa(minutes - 5)),
		},
		EnvFromCfnOutputs:    &outputs,
		BuildEnvironment:     &awscodebuild.BuildEnvironment{ComputeType: awscodebuild.ComputeType_SMALL},
		Timeout:              awscdk.Duration_Minutes(jsii.Number(float64(minutes))),
		RolePolicyStatements: &statements,
	})
}

// ServerDeployScript deploys the revision named by its environment
// (SAFEPIPE_APPLICATION, _GROUP, _BUCKET, _KEY, with the deployer
// profile) and waits for the deployment to end.
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
// is stopped first (only one runs per group). Every output is read as
// JSON-free text with a single value; "None" (the AWS CLI's empty value)
// never counts as a type or a status.
const ServerDeployScript = `set -eu
cat > safepipe-deploy.sh <<'SAFEPIPE'
set -eu
kind=$(env -u AWS_PROFILE aws codepipeline get-pipeline-state --name "$SAFEPIPE_PIPELINE" --region "$SAFEPIPE_PIPELINE_REGION" --query "stageStates[?stageName=='$SAFEPIPE_STAGE'].latestExecution.type | [0]" --output text)
override=""
if [ "$kind" = ROLLBACK ]; then
  echo "safepipe: a rollback execution: deploying the earlier revision with alarm polling off"
  override="--override-alarm-configuration enabled=false"
  for old in $(aws deploy list-deployments --application-name "$SAFEPIPE_APPLICATION" --deployment-group-name "$SAFEPIPE_GROUP" --include-only-statuses Created Queued InProgress Ready --query 'deployments[]' --output text); do
    [ "$old" = None ] && continue
    echo "safepipe: stopping deployment $old, still in progress"
    aws deploy stop-deployment --deployment-id "$old" --no-auto-rollback-enabled >/dev/null || true
  done
fi
id=$(aws deploy create-deployment --application-name "$SAFEPIPE_APPLICATION" --deployment-group-name "$SAFEPIPE_GROUP" \
  --s3-location "bucket=$SAFEPIPE_BUCKET,key=$SAFEPIPE_KEY,bundleType=zip" $override \
  --description "safepipe $SAFEPIPE_STAGE" --query deploymentId --output text)
echo "safepipe: deployment $id to $SAFEPIPE_GROUP"
deadline=$(( $(date +%s) + SAFEPIPE_DEADLINE_MINUTES * 60 ))
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
