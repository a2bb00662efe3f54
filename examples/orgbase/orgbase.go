// Package orgbase is an example organisation's base pipeline: the platform
// team fixes the accounts, the source connection, the wave policy, the
// bakes and the deployment window once, and every service team embeds it
// with its own service and a few overrides. This is how safepipe does
// "subclassing" in Go: composition and a small Props struct, not
// inheritance.
package orgbase

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/safepipe/safepipe/constructs/pipeline"
	"github.com/safepipe/safepipe/twophase"
	"github.com/safepipe/safepipe/waves"
)

// The organisation's accounts and toolchain.
const (
	ToolchainAccount = "111111111111"
	ToolchainRegion  = "us-west-2"
	PreProdAccount   = "222222222222"
	ProdAccount      = "333333333333"
	ConnectionArn    = "arn:aws:codeconnections:us-west-2:111111111111:connection/5f0c1b6e-0000-4000-8000-000000000000"
)

// OrganizationAlarm is the organisation-wide alarm (in the toolchain
// account and region) that stops every deployment while in ALARM: the
// operations team sets it during a large-scale event.
const OrganizationAlarm = "org-deployment-freeze"

// Holidays are the organisation's no-deploy days.
var Holidays = []string{"2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01"}

// Props are what a service team supplies.
type Props struct {
	// Repo is the team's repository, "owner/name". Required.
	Repo string
	// Team names the team's alarms in every deployment (see
	// pipeline.Deployment.Alarms): the service creates them with
	// alarms.NewRollbackAlarms and the pipeline's gates watch them.
	// Required.
	Team string
	// Service builds the team's stage for each target. Required.
	Service pipeline.Service
	// Shape is how the service takes a change inside a region.
	// Default: waves.ShapeZonal.
	Shape waves.Shape
	// Exclude lists regions the service does not run in. Default: none.
	Exclude []string
	// Waves lists the regions of each production wave, for a service
	// that runs in a few regions only (waves.PolicyExplicit). Default:
	// the organisation's amazon waves over every region.
	Waves [][]string
	// Zeta adds backward-compatibility tests after gamma. Default: false.
	Zeta bool
	// UpgradeDowngrade adds the upgrade-downgrade test before production.
	// Default: none.
	UpgradeDowngrade *pipeline.UpgradeDowngrade
	// Changes are the two-phase changes the release carries (the gates
	// hold an activation until every production ledger is prepared).
	// Default: none.
	Changes []twophase.Change
}

// Policy is the organisation's wave policy: the amazon waves over every
// region of the catalog that offers what the pipeline needs (a region
// without CodePipeline, say, is left out and listed in the plan's
// LackingServices), the organisation's window and holidays.
func Policy(shape waves.Shape, exclude []string) waves.Policy {
	return policy(shape, exclude, nil)
}

// policy is Policy with explicit waves, when given.
func policy(shape waves.Shape, exclude []string, explicit [][]string) waves.Policy {
	p := waves.Policy{
		Kind:            waves.PolicyAmazon,
		OptIn:           []string{"*"},
		Exclude:         append([]string(nil), exclude...),
		LackingServices: waves.LackingExclude,
		Shape:           shape,
		Bakes:           waves.Bakes{OneBox: time.Hour, Zonal: time.Hour, FirstWave: 12 * time.Hour, LaterWaves: 2 * time.Hour},
		Window: waves.Window{
			TimeZone: "America/Los_Angeles",
			Days:     []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday},
			Holidays: Holidays,
		},
	}
	if explicit != nil {
		p.Kind, p.Waves = waves.PolicyExplicit, explicit
	}
	return p
}

// New creates the team's pipeline stack, named id, in the toolchain account.
func New(scope constructs.Construct, id string, props *Props) pipeline.BasePipeline {
	var p Props
	if props != nil {
		p = *props
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &awscdk.StackProps{
		Env:         &awscdk.Environment{Account: jsii.String(ToolchainAccount), Region: jsii.String(ToolchainRegion)},
		Description: jsii.String("safepipe pipeline " + id),
		// CloudFormation reads at most 1,000,000 bytes of template; without
		// indentation a global zonal pipeline has room to spare.
		SuppressTemplateIndentation: jsii.Bool(true),
	})
	// Organisation policy: every stack passes cdk-nag's AWS Solutions checks;
	// each suppression carries its reason (nag.go).
	nag := cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)})
	awscdk.Aspects_Of(scope).Add(nag, nil) // the pipeline stack and its cross-region support stacks
	// The organisation's suppressions for the service stacks (nag.go).
	var service pipeline.Service
	if p.Service != nil { // nil stays nil: the pipeline reports it
		service = suppressedService{svc: p.Service}
	}
	base := pipeline.NewBasePipeline(stack, jsii.String("Pipeline"), &pipeline.BasePipelineProps{
		StageAspects: []awscdk.IAspect{
			cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}),
		},
		Team:             p.Team,
		Service:          service,
		Policy:           policy(p.Shape, p.Exclude, p.Waves),
		Accounts:         pipeline.Accounts{PreProd: PreProdAccount, Prod: ProdAccount},
		Source:           pipeline.Source{ConnectionArn: ConnectionArn, Repo: p.Repo, Branch: "main"},
		Zeta:             p.Zeta,
		UpgradeDowngrade: p.UpgradeDowngrade,
		Gates:            []pipeline.Gate{pipeline.SafetyGates{OrganizationAlarm: OrganizationAlarm, Changes: p.Changes}},
	})
	return base
}
