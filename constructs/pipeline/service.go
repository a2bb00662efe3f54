package pipeline

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/waves"
)

// Environment names where a deployment goes: a pre-production environment
// or production.
type Environment string

// The environments, in pipeline order.
const (
	Alpha Environment = "alpha"
	Beta  Environment = "beta"
	Gamma Environment = "gamma"
	Zeta  Environment = "zeta"
	Prod  Environment = "prod"
)

// Deployment is everything a team's service needs to know to build the
// cdk.Stage for one target: where it goes, into which account, and the
// plan's decisions for that step.
type Deployment struct {
	// Environment is alpha, beta, gamma, zeta or prod.
	Environment Environment
	// Account is the AWS account the stage deploys into.
	Account string
	// Target is the region, the AZ ID ("" for a whole region) and whether
	// this is the region's one-box.
	Target waves.Target
	// Stage is the plan stage in production; nil in pre-production.
	Stage *waves.Stage
	// Bake is how long this step is watched before promotion (the one-box
	// bake for one-box targets). A one-box deployment may hold its small
	// share of traffic for this long.
	Bake time.Duration
	// Region is the catalog's entry for the target's region: its AZ IDs
	// in deployment order (map them to subnets with AvailabilityZoneId),
	// partition and time zone.
	Region waves.Region
	// PipelineAccount is the pipeline's (toolchain) account, which test
	// and deployer roles trust.
	PipelineAccount string
	// PipelineName and PipelineRegion locate the pipeline, for steps that
	// read its state.
	PipelineName, PipelineRegion string
	// StageName is the pipeline stage that deploys this target.
	StageName string
	// UpgradeDowngrade is the upgrade-downgrade test's step this
	// deployment takes ("" outside the test): deploy the new version to
	// half, to all, the version live before to half, to all, the new
	// version again (see UpgradeDowngradeStep).
	UpgradeDowngrade UpgradeDowngradeStep
	// Alarms names the team's alarms of this deployment: pass it to
	// alarms.NewRollbackAlarms. The pipeline's gates watch exactly these
	// names, and the pipeline fails synth if the stage does not create the
	// alarms its gates watch.
	Alarms alarms.Names

	// pipeline is the pipeline construct that made the deployment, where
	// its steps' roles live (nil in a Deployment made by hand).
	pipeline constructs.Construct
}

// Env returns the CDK environment (account and region) of the deployment.
func (d Deployment) Env() *awscdk.Environment {
	return &awscdk.Environment{Account: jsii.String(d.Account), Region: jsii.String(d.Target.Region)}
}

// Name is a readable, stable name for the deployment, e.g.
// "prod-us-east-1-onebox" or "gamma-eu-west-1".
func (d Deployment) Name() string {
	return fmt.Sprintf("%s-%s", d.Environment, d.Target.ID())
}

// Service is the team's part of a pipeline: it builds the cdk.Stage that
// deploys the service to one target. It is called once per target, in
// pipeline order, with a scope and id that are unique to that target.
type Service interface {
	NewStage(scope constructs.Construct, id string, d Deployment) awscdk.Stage
}

// ServiceFunc adapts a function to the Service interface.
type ServiceFunc func(scope constructs.Construct, id string, d Deployment) awscdk.Stage

// NewStage calls f.
func (f ServiceFunc) NewStage(scope constructs.Construct, id string, d Deployment) awscdk.Stage {
	return f(scope, id, d)
}

// ServiceNeeds is an optional capability of a Service: the AWS services
// its stacks use in every region it deploys to, by their endpoint names
// (waves.Region.Services: "lambda", "codedeploy", "ecs", "appconfig"). The
// plan requires them of every region, with waves.PipelineServices and
// "monitoring" (the rollback alarms), and refuses — or, as the policy
// says, leaves out — a region whose catalog entry does not offer one.
type ServiceNeeds interface {
	RequiredServices() []string
}

// Deployer is an optional capability of a Service: steps that complete a
// deployment after its stacks deploy, in every environment — a CodeDeploy
// revision pushed to the target's deployment group, say (the step of a
// deploy.ServerRevision: ServerRevision.Step). They run in the target's stage, after its
// stacks and before its tests, and count toward the stage's actions. Each
// call must return new steps.
type Deployer interface {
	DeploySteps(d Deployment) []pipelines.Step
}

// Tester is an optional capability of a Service: the test steps to run after
// the service deploys to a pre-production deployment (integration tests in
// alpha, beta and gamma; backward-compatibility tests in zeta). It is
// called after NewStage for the same deployment. Each call must return new
// steps: a step object belongs to one pipeline stage. TestStep runs a
// test as the deployment's test role (NewTestRole), in the target account.
type Tester interface {
	Tests(d Deployment) []pipelines.Step
}
