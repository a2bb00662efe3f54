package pipeline

import (
	"fmt"
	"regexp"
	"slices"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// CDK Pipelines (aws-cdk-lib/pipelines) builds the CodePipeline stages
// itself and offers no API for stage conditions (BeforeEntry, OnSuccess,
// OnFailure). This file is the one place safepipe reaches under it: after
// the pipeline is built, it finds each stage's index by name and writes the
// conditions as CloudFormation property overrides on the CfnPipeline.

// Rule is one stage-condition rule, in CloudFormation's shape.
type Rule struct {
	// Name is unique within the condition.
	Name string
	// Provider is the rule type: CloudWatchAlarm, CodeBuild, Commands,
	// DeploymentWindow, LambdaInvoke or VariableCheck.
	Provider string
	// Configuration is the rule's configuration (string values).
	Configuration map[string]string
	// Region is the rule's region, for cross-region rules. Default: the
	// pipeline's region.
	Region string
	// RoleArn is the role the rule assumes. Default: the pipeline role.
	RoleArn string
}

// Condition is a set of rules (1–5) with the result applied when they fail.
type Condition struct {
	// Result is FAIL or SKIP (BeforeEntry), ROLLBACK or FAIL (OnSuccess),
	// ROLLBACK or RETRY (OnFailure, which may also have no rules).
	Result string
	// Rules are checked together.
	Rules []Rule
}

// StageConditions are a stage's entry, success and failure conditions.
// CodePipeline allows one condition of each kind per stage.
type StageConditions struct {
	// BeforeEntry is checked before the stage starts (blockers, windows).
	// Default: none.
	BeforeEntry *Condition
	// OnSuccess is checked after the stage succeeds (bakes). Default: none.
	OnSuccess *Condition
	// OnFailure says what a failed stage does (ROLLBACK). Default: none.
	OnFailure *Condition
}

// MaxRulesPerCondition is CodePipeline's limit of rules in one condition.
const MaxRulesPerCondition = 5

var ruleNameRE = regexp.MustCompile(`^[A-Za-z0-9.@_-]{1,100}$`)

func (c *Condition) validate(stage, kind string) error {
	if c == nil {
		return nil
	}
	if len(c.Rules) > MaxRulesPerCondition {
		return fmt.Errorf("stage %s: %s condition has %d rules, over the CodePipeline limit of %d", stage, kind, len(c.Rules), MaxRulesPerCondition)
	}
	if kind != "OnFailure" && len(c.Rules) == 0 {
		return fmt.Errorf("stage %s: %s condition has no rules", stage, kind)
	}
	results := map[string][]string{"BeforeEntry": {"FAIL", "SKIP"}, "OnSuccess": {"ROLLBACK", "FAIL"}, "OnFailure": {"ROLLBACK", "RETRY"}}
	if !slices.Contains(results[kind], c.Result) {
		return fmt.Errorf("stage %s: %s condition result %q is not one of %v", stage, kind, c.Result, results[kind])
	}
	seen := map[string]bool{}
	for _, r := range c.Rules {
		if !ruleNameRE.MatchString(r.Name) {
			return fmt.Errorf("stage %s: %s rule name %q must match %s", stage, kind, r.Name, ruleNameRE)
		}
		if r.Provider == "" {
			return fmt.Errorf("stage %s: %s rule %q has no provider", stage, kind, r.Name)
		}
		if seen[r.Name] {
			return fmt.Errorf("stage %s: %s condition has two rules named %q", stage, kind, r.Name)
		}
		seen[r.Name] = true
	}
	return nil
}

// render returns the condition in CloudFormation's shape: OnFailure carries
// its Result at the top (its rules are optional); BeforeEntry and OnSuccess
// carry a list of conditions.
func (c *Condition) render(kind string) map[string]any {
	out := map[string]any{}
	if kind == "OnFailure" {
		out["Result"] = c.Result
	}
	if len(c.Rules) == 0 {
		return out
	}
	rules := make([]any, len(c.Rules))
	for i, r := range c.Rules {
		cfg := map[string]any{}
		keys := make([]string, 0, len(r.Configuration))
		for k := range r.Configuration {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			cfg[k] = r.Configuration[k]
		}
		decl := map[string]any{
			"Name":          r.Name,
			"RuleTypeId":    map[string]any{"Category": "Rule", "Owner": "AWS", "Provider": r.Provider, "Version": "1"},
			"Configuration": cfg,
		}
		if r.Region != "" {
			decl["Region"] = r.Region
		}
		if r.RoleArn != "" {
			decl["RoleArn"] = r.RoleArn
		}
		rules[i] = decl
	}
	out["Conditions"] = []any{map[string]any{"Result": c.Result, "Rules": rules}}
	return out
}

// applyStageConditions writes conditions onto the built pipeline. It fails
// if a stage is not in the pipeline. metricAlarm tells the alarms known to
// be metric alarms (the gate controller's), which a rule may read with a
// permission scoped to the alarm.
func applyStageConditions(p awscodepipeline.Pipeline, byStage map[string]*StageConditions, metricAlarm func(string) bool) error {
	index := map[string]int{}
	var all []string
	for i, s := range *p.Stages() {
		index[*s.StageName()] = i
		all = append(all, *s.StageName())
	}
	cfn, ok := p.Node().DefaultChild().(awscodepipeline.CfnPipeline)
	if !ok {
		return fmt.Errorf("pipeline: the CodePipeline has no CfnPipeline child")
	}
	if err := grantRuleRoles(p, byStage, metricAlarm); err != nil {
		return err
	}
	names := make([]string, 0, len(byStage))
	for n := range byStage {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		i, ok := index[name]
		if !ok {
			return fmt.Errorf("pipeline: stage %q is not in the pipeline (stages: %v)", name, all)
		}
		sc := byStage[name]
		if sc.BeforeEntry == nil && sc.OnSuccess == nil && sc.OnFailure == nil {
			continue
		}
		for _, kc := range []struct {
			kind string
			c    *Condition
		}{{"BeforeEntry", sc.BeforeEntry}, {"OnSuccess", sc.OnSuccess}, {"OnFailure", sc.OnFailure}} {
			kind, c := kc.kind, kc.c
			if err := c.validate(name, kind); err != nil {
				return err
			}
			if c != nil {
				cfn.AddPropertyOverride(jsii.String(fmt.Sprintf("Stages.%d.%s", i, kind)), c.render(kind))
			}
		}
	}
	return nil
}

// grantRuleRoles lets the pipeline role assume every role a rule names,
// and read the alarms of CloudWatchAlarm rules that name no role (rules
// run as the pipeline role unless they name one: the rule's roleArn is
// "The pipeline role ARN associated with the rule",
// https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RuleDeclaration.html).
// CodePipeline does not document the permissions a CloudWatchAlarm rule
// needs; it reads alarm states, so the role gets cloudwatch:DescribeAlarms
// on the alarm — or on "*" for an alarm that may be a composite, which
// DescribeAlarms returns only to a permission "scoped to *"
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
func grantRuleRoles(p awscodepipeline.Pipeline, byStage map[string]*StageConditions, metricAlarm func(string) bool) error {
	stack := awscdk.Stack_Of(p)
	seen := map[string]bool{}
	var roles, alarms []string
	for _, sc := range byStage {
		for _, c := range []*Condition{sc.BeforeEntry, sc.OnSuccess, sc.OnFailure} {
			if c == nil {
				continue
			}
			for _, r := range c.Rules {
				switch {
				case r.RoleArn != "" && !seen[r.RoleArn]:
					seen[r.RoleArn] = true
					roles = append(roles, r.RoleArn)
				case r.RoleArn == "" && r.Provider == "CloudWatchAlarm" && !metricAlarm(r.Configuration["AlarmName"]):
					if !seen["*"] {
						seen["*"] = true
						alarms = append(alarms, "*")
					}
				case r.RoleArn == "" && r.Provider == "CloudWatchAlarm":
					region := r.Region
					if region == "" {
						region = *stack.Region()
					}
					arn := fmt.Sprintf("arn:%s:cloudwatch:%s:%s:alarm:%s", *awscdk.Aws_PARTITION(), region, *stack.Account(), r.Configuration["AlarmName"])
					if !seen[arn] {
						seen[arn] = true
						alarms = append(alarms, arn)
					}
				}
			}
		}
	}
	sort.Strings(roles)
	sort.Strings(alarms)
	if len(roles) > 0 {
		p.Role().AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("SafepipeRuleRoles"),
			Actions:   jsii.Strings("sts:AssumeRole"),
			Resources: jsii.Strings(roles...),
		}))
	}
	if len(alarms) > 0 {
		p.Role().AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("SafepipeRuleAlarms"),
			Actions:   jsii.Strings("cloudwatch:DescribeAlarms"),
			Resources: jsii.Strings(alarms...),
		}))
	}
	return nil
}
