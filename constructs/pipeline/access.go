package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/gates"
	"github.com/safepipe/safepipe/internal/synth"
)

// The gate controller reads alarms, stacks and two-phase ledgers in every
// target account. It does so through a watch role that the pipeline
// creates in each of those accounts, in a stage of its own that runs
// before any gated stage (StageAccess): the controller must be able to
// read an account before the first stage that deploys there starts, so
// the role cannot live in the service stacks that stage deploys.
//
// A watch role allows exactly the reads the controller makes (see
// watchRoleStatements) and trusts only the controller's role: the
// pipeline account as principal, with a condition on aws:PrincipalArn
// naming the roles named StepRolePrefix(pipeline, GatesPurpose)…, which
// only the controller's role is.
//
// The CDK bootstrap lookup role (ReadOnlyAccess) stays available as an
// explicit opt-in: SafetyGates.WatchRole = LookupRoleWatch(qualifier).

// StageAccess is the pipeline stage that creates the watch roles.
const StageAccess = "SafepipeAccess"

// GatesPurpose is the purpose of the gate controller's role
// (StepRolePrefix), which the watch roles trust.
const GatesPurpose = "gates"

// WatchRoleName is the name of the watch role of a pipeline in each
// target account: "safepipe-watch-<pipeline>", cut with a hash to IAM's
// 64 characters.
func WatchRoleName(pipelineName string) string {
	return capName("safepipe-watch-"+pipelineName, 64)
}

// WatchRoleArn is the ARN of the pipeline's watch role in account.
func WatchRoleArn(partition, account, pipelineName string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, account, WatchRoleName(pipelineName))
}

// LookupRoleWatch makes the controller read through the CDK bootstrap
// lookup role of each account and region
// ("cdk-<qualifier>-lookup-role-<account>-<region>"), an opt-in for
// organisations that trust the pipeline account for lookups anyway: that
// role carries AWS's ReadOnlyAccess policy, so whoever controls the
// controller can read everything it covers in every target account.
// qualifier is the bootstrap qualifier of the targets (BootstrapQualifier).
func LookupRoleWatch(qualifier string) func(account, region string) string {
	return func(account, region string) string {
		return fmt.Sprintf("arn:%s:iam::%s:role/cdk-%s-lookup-role-%s-%s", partition(region), account, qualifier, account, region)
	}
}

// BootstrapQualifier is the CDK bootstrap qualifier of scope's stack, as
// its synthesizer uses it: the synthesizer's qualifier prop, else the
// context key "@aws-cdk/core:bootstrapQualifier", else CDK's default
// (aws-cdk-lib DefaultStackSynthesizerProps.qualifier).
func BootstrapQualifier(scope constructs.Construct) (string, error) {
	q := awscdk.Stack_Of(scope).Synthesizer().BootstrapQualifier()
	if q == nil || *q == "" {
		return "", fmt.Errorf("pipeline: stack %s has no bootstrap qualifier (its synthesizer is not CDK's default)", *awscdk.Stack_Of(scope).StackName())
	}
	return *q, nil
}

// capName cuts a name to max characters with a hash of the whole.
func capName(name string, max int) string {
	if len(name) <= max {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:max-9] + "-" + hex.EncodeToString(sum[:4])
}

// watchNeed is what the controller reads in one account through its watch
// role.
type watchNeed struct {
	regions map[string]bool
	stacks  map[string]bool
	ledgers bool
}

// watchNeeds collects, from the controller's configuration, what it reads
// through the pipeline's watch role in each account. A ledger outside
// ledgerParameterPrefix is an error: the watch role could not read it.
func watchNeeds(cfg gates.Config, partition string) (map[string]*watchNeed, error) {
	out := map[string]*watchNeed{}
	var errs []error
	need := func(account, region, role string) *watchNeed {
		if role == "" || role != WatchRoleArn(partition, account, cfg.Pipeline) {
			return nil
		}
		n := out[account]
		if n == nil {
			n = &watchNeed{regions: map[string]bool{}, stacks: map[string]bool{}}
			out[account] = n
		}
		n.regions[region] = true
		return n
	}
	alarm := func(a gates.Alarm) {
		if n := need(a.Account, a.Region, a.Role); n != nil && a.Stack != "" {
			n.stacks[a.Stack] = true
		}
	}
	if cfg.Organization != nil {
		alarm(*cfg.Organization)
	}
	for _, s := range cfg.Stages {
		for _, a := range s.Blockers {
			alarm(a)
		}
		for _, a := range s.Bake {
			alarm(a)
		}
		for _, r := range s.Prepared {
			if n := need(r.Account, r.Region, r.Role); n != nil {
				n.ledgers = true
				if !strings.HasPrefix(r.Parameter, ledgerParameterPrefix) {
					errs = append(errs, fmt.Errorf("pipeline: stage %s waits for ledger %s in account %s, outside %s, which the watch role reads", s.Name, r.Parameter, r.Account, ledgerParameterPrefix))
				}
			}
		}
	}
	return out, errors.Join(errs...)
}

var stackNameInvalid = regexp.MustCompile(`[^A-Za-z0-9-]`)

// accessStackName is the name of the access stack in each account:
// "safepipe-access-<pipeline>", in the characters CloudFormation allows.
func accessStackName(pipelineName string) string {
	return capName("safepipe-access-"+stackNameInvalid.ReplaceAllString(pipelineName, "-"), 128)
}

// buildAccess adds to wave the stage that creates the watch roles, one
// stack per account (in the pipeline's region: IAM is global), each role
// trusted by the controller's role only.
func buildAccess(scope constructs.Construct, wave pipelines.Wave, cfg gates.Config, pipelineAccount, pipelineRegion string) error {
	part := partition(pipelineRegion)
	needs, err := watchNeeds(cfg, part)
	if err != nil {
		return err
	}
	stage := awscdk.NewStage(scope, jsii.String(StageAccess), nil)
	for _, account := range slices.Sorted(maps.Keys(needs)) {
		n := needs[account]
		stack := awscdk.NewStack(stage, jsii.String("Watch-"+account), &awscdk.StackProps{
			Env:         &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(pipelineRegion)},
			StackName:   jsii.String(accessStackName(cfg.Pipeline)),
			Description: jsii.String("safepipe: the role through which the gate controller of pipeline " + cfg.Pipeline + " reads this account's alarms, stacks and ledgers"),
		})
		// verify recognises the stack as the pipeline's plumbing by this
		// metadata and its IAM-only resources (verify.MetadataAccess).
		stack.AddMetadata(jsii.String("safepipe:access"), map[string]any{"pipeline": cfg.Pipeline, "purpose": "the gate controller's watch role"})
		role := awsiam.NewRole(stack, jsii.String("WatchRole"), &awsiam.RoleProps{
			RoleName:           jsii.String(WatchRoleName(cfg.Pipeline)),
			Description:        jsii.String("safepipe: read by the gate controller of pipeline " + cfg.Pipeline + " (account " + pipelineAccount + ") only"),
			AssumedBy:          TrustStepRoles(part, pipelineAccount, pipelineRegion, cfg.Pipeline, GatesPurpose),
			MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
		})
		for _, st := range watchRoleStatements(part, account, n) {
			role.AddToPolicy(st)
		}
		if p, ok := role.Node().TryFindChild(jsii.String("DefaultPolicy")).(awsiam.Policy); ok {
			synth.NagSuppress(p, "AwsSolutions-IAM5", "DescribeAlarms and DescribeAlarmHistory return composite alarms only when scoped to * (API reference); they are limited to the regions the gates watch by aws:RequestedRegion. The stack and parameter ARNs end in the stack ID and the ledger names, which are not known at synth.")
		}
	}
	wave.AddStage(stage, nil)
	return nil
}

// watchRoleStatements are the reads the controller makes in an account
// (cmd/safepipe-gates, aws.go), each on the narrowest resource the service
// authorization reference allows, and only in the regions it reads:
//
//   - cloudwatch:DescribeAlarms and cloudwatch:DescribeAlarmHistory on "*":
//     "To use this operation and return information about composite
//     alarms, you must be signed on with the cloudwatch:DescribeAlarms
//     permission that is scoped to *. You can't return information about
//     composite alarms if your cloudwatch:DescribeAlarms permission has a
//     narrower scope." (API_DescribeAlarms; API_DescribeAlarmHistory says
//     the same of its own permission), and the aggregates are composites;
//   - cloudformation:DescribeStacks on the stacks the gates name (resource
//     type stack: arn:…:cloudformation:REGION:ACCOUNT:stack/NAME/ID);
//   - ssm:GetParameter on the two-phase ledgers (/safepipe/…), when a
//     stage waits for a change to be prepared.
//
// aws:RequestedRegion ("Use this key to compare the AWS Region that was
// called in the request with the Region that you specify in the policy",
// IAM condition keys reference) keeps every read to the regions of the
// account the gates watch.
func watchRoleStatements(part, account string, n *watchNeed) []awsiam.PolicyStatement {
	regions := slices.Sorted(maps.Keys(n.regions))
	inRegions := &map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": regions}}
	out := []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ReadAlarms"),
		Actions:    jsii.Strings("cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"),
		Resources:  jsii.Strings("*"),
		Conditions: inRegions,
	})}
	if len(n.stacks) > 0 {
		var arns []string
		for _, s := range slices.Sorted(maps.Keys(n.stacks)) {
			arns = append(arns, fmt.Sprintf("arn:%s:cloudformation:*:%s:stack/%s/*", part, account, s))
		}
		out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("ReadStacks"),
			Actions:    jsii.Strings("cloudformation:DescribeStacks"),
			Resources:  jsii.Strings(arns...),
			Conditions: inRegions,
		}))
	}
	if n.ledgers {
		out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("ReadLedgers"),
			Actions:    jsii.Strings("ssm:GetParameter"),
			Resources:  jsii.Strings(fmt.Sprintf("arn:%s:ssm:*:%s:parameter%s*", part, account, ledgerParameterPrefix)),
			Conditions: inRegions,
		}))
	}
	return out
}

// usesWatchRoles reports whether a gate reads through the pipeline's watch
// roles (SafetyGates without a WatchRole of its own): the pipeline then
// reserves a stage for StageAccess.
func usesWatchRoles(gs []Gate) bool {
	for _, g := range gs {
		switch g := g.(type) {
		case SafetyGates:
			if g.WatchRole == nil {
				return true
			}
		case *SafetyGates:
			if g != nil && g.WatchRole == nil {
				return true
			}
		}
	}
	return false
}

// ledgerParameterPrefix is where the two-phase ledgers live (deploy's
// alias controller writes /safepipe/two-phase/<ledger>); the watch role
// reads nothing else of SSM.
const ledgerParameterPrefix = "/safepipe/"
