package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/waves"
)

// Names of the rules and steps SafetyGates adds. verify recognises them.
const (
	RuleDeploymentWindow  = "DeploymentWindow"
	RuleOrganizationAlarm = "OrganizationAlarm"
	RuleBlockerPrefix     = "Blocker-" // + region
	RuleBakePrefix        = "Bake-"    // + region
	StepBlockers          = "Blockers"
	StepBake              = "Bake"
)

// SafetyGates is the Gate that makes the pipeline hands-off. On gamma and
// every production stage it renders:
//
//   - Rollback: an OnFailure condition with result ROLLBACK.
//   - Deployment window (production): a DeploymentWindow rule with the
//     plan window's cron and time zone in the BeforeEntry condition.
//   - Blockers: the stage fails before it deploys anything if the
//     organisation alarm or any of its regions' aggregate alarms
//     (alarms.AggregateName) is in ALARM, or if today is a holiday of the
//     window.
//   - Bake: after the stage deploys, every region's bake alarm
//     (alarms.BakeName: the aggregate, or the one-box alarm for one-box
//     steps, ORed with too little traffic) is watched for the stage's bake
//     time; any ALARM rolls the stage back.
//
// See the package documentation ("Fan-in") for how a stage of more
// regions than CodePipeline's five rules per condition is watched.
type SafetyGates struct {
	// Team names the alarms the gates watch, as the service stacks create
	// them with alarms.NewRollbackAlarms. Required.
	Team string
	// OrganizationAlarm is an organisation-wide alarm that blocks every
	// gated stage while in ALARM. Default: none.
	OrganizationAlarm string
	// OrganizationAlarmRegion is the organisation alarm's region.
	// Default: the pipeline's region.
	OrganizationAlarmRegion string
	// OrganizationAlarmRoleArn is the role that reads the organisation
	// alarm. Default: the pipeline role (the alarm is in the pipeline's
	// account).
	OrganizationAlarmRoleArn string
	// WatchRole returns the role the pipeline assumes to read alarms in an
	// account and region. Default: the CDK bootstrap lookup role
	// (cdk-hnb659fds-lookup-role-ACCOUNT-REGION, read-only, trusted by the
	// pipeline account when the targets are bootstrapped with --trust).
	WatchRole func(account, region string) string
	// GammaBake is the bake of the gamma (regional) stage; the gamma
	// one-box bakes for the one-box floor. Default: waves.FloorZonal.
	GammaBake time.Duration
}

// MaxNativeRegions is the most regions whose bake is watched by native
// CloudWatchAlarm rules (one per region, CodePipeline allows five per
// condition); larger stages are watched by one Bake action.
const MaxNativeRegions = MaxRulesPerCondition

// ReservedActions implements ActionReserver: a stage may get a Blockers
// and a Bake action besides its deployments.
func (g SafetyGates) ReservedActions() int { return 2 }

// DefaultWatchRole is the CDK bootstrap lookup role of account and region.
func DefaultWatchRole(account, region string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/cdk-hnb659fds-lookup-role-%s-%s", *awscdk.Aws_PARTITION(), account, account, region)
}

type watched struct {
	account, region, role string
	oneBox                bool
	alarm                 string
	org                   bool // the organisation alarm
}

// MaxFanInBake is the longest bake a watch action can hold: CodePipeline
// times CodeBuild actions out after 8 hours.
const MaxFanInBake = 7*time.Hour + 30*time.Minute

// Gate renders the gates onto one stage.
func (g SafetyGates) Gate(s *GatedStage) error {
	if !alarms.ValidName(g.Team) {
		return fmt.Errorf("SafetyGates.Team %q must be a valid alarms team name (lower case, digits, dashes)", g.Team)
	}
	if len(s.Deployments) == 0 {
		return errors.New("SafetyGates: the stage has no deployments")
	}
	role := g.WatchRole
	if role == nil {
		role = DefaultWatchRole
	}
	account := s.Deployments[0].Account
	var deployed []watched
	for _, d := range s.Deployments {
		if slices.ContainsFunc(deployed, func(w watched) bool { return w.region == d.Target.Region }) {
			return fmt.Errorf("SafetyGates: region %s is deployed twice in the stage", d.Target.Region)
		}
		deployed = append(deployed, watched{account: d.Account, region: d.Target.Region, role: role(d.Account, d.Target.Region), oneBox: d.Target.OneBox})
	}
	// The bake watches the plan's Watch targets: for the last part of a
	// split stage, every part's regions.
	baked := deployed
	if s.Stage != nil && len(s.Stage.Watch) > len(s.Stage.Targets) {
		baked = nil
		for _, t := range s.Stage.Watch {
			baked = append(baked, watched{account: account, region: t.Region, role: role(account, t.Region), oneBox: t.OneBox})
		}
	}
	bake := s.Deployments[0].Bake
	if s.Environment == Gamma && !s.Deployments[0].Target.OneBox {
		bake = g.GammaBake
		if bake == 0 {
			bake = waves.FloorZonal
		}
	}
	tz := windowTZ(s.Window.TimeZone)
	c := s.Conditions

	// Rollback.
	if c.OnFailure != nil && c.OnFailure.Result != "ROLLBACK" {
		return fmt.Errorf("SafetyGates: another gate set the OnFailure result %q; the stage must roll back", c.OnFailure.Result)
	}
	if c.OnFailure == nil {
		c.OnFailure = &Condition{Result: "ROLLBACK"}
	}

	// Entry. A DeploymentWindow rule holds the stage until the window
	// opens, and CodePipeline does not re-check alarm rules of the same
	// condition when it does, so production stages check their alarms in
	// a Blockers action at the start of the stage instead; gamma, which
	// has no window, uses native rules when they fit.
	var entry []Rule
	var blockers []watched
	if g.OrganizationAlarm != "" {
		region := g.OrganizationAlarmRegion
		if region == "" {
			region = s.PipelineRegion
		}
		orgRole := g.OrganizationAlarmRoleArn
		if orgRole == "" {
			orgRole = "-" // the pipeline account's own alarm
		}
		blockers = append(blockers, watched{region: region, role: orgRole, alarm: g.OrganizationAlarm, org: true})
	}
	for _, w := range deployed {
		w.alarm = alarms.AggregateName(g.Team)
		blockers = append(blockers, w)
	}
	var holidays []string
	if s.Environment == Prod {
		entry = append(entry, Rule{
			Name:          RuleDeploymentWindow,
			Provider:      "DeploymentWindow",
			Configuration: map[string]string{"Cron": s.Window.Cron(), "TimeZone": tz},
		})
		holidays = s.Window.Holidays
	} else if existing(c.BeforeEntry)+len(blockers) <= MaxRulesPerCondition {
		for _, w := range blockers {
			if w.org {
				entry = append(entry, Rule{Name: RuleOrganizationAlarm, Provider: "CloudWatchAlarm",
					Configuration: map[string]string{"AlarmName": w.alarm, "AlarmStates": "ALARM"}, Region: w.region, RoleArn: g.OrganizationAlarmRoleArn})
				continue
			}
			entry = append(entry, alarmRule(RuleBlockerPrefix+w.region, w.alarm, w, 0))
		}
		blockers = nil
	}
	if len(blockers) > 0 || len(holidays) > 0 {
		s.Wave.AddPre(watchStep(StepBlockers, s, blockers, 0, false, tz, holidays))
	}
	if err := merge(&c.BeforeEntry, "FAIL", entry); err != nil {
		return err
	}

	// Bake.
	if bake <= 0 {
		return nil
	}
	for i := range baked {
		baked[i].alarm = alarms.BakeName(g.Team, baked[i].oneBox)
	}
	if existing(c.OnSuccess)+len(baked) <= MaxNativeRegions {
		var rules []Rule
		for _, w := range baked {
			rules = append(rules, alarmRule(RuleBakePrefix+w.region, w.alarm, w, bake))
		}
		return merge(&c.OnSuccess, "ROLLBACK", rules)
	}
	if bake > MaxFanInBake {
		return fmt.Errorf("SafetyGates: the %s bake of %d regions needs a watch action, and CodePipeline stops CodeBuild actions after 8 h; keep fan-in bakes at or under %s (fewer regions per stage, or a shorter bake)", bake, len(baked), MaxFanInBake)
	}
	s.Wave.AddPost(watchStep(StepBake, s, baked, bake, true, "", nil))
	return nil
}

// existing counts the rules another gate already put in a condition.
func existing(c *Condition) int {
	if c == nil {
		return 0
	}
	return len(c.Rules)
}

// merge adds rules to a condition that another gate may have started.
func merge(c **Condition, result string, rules []Rule) error {
	if len(rules) == 0 {
		return nil
	}
	if *c == nil {
		*c = &Condition{Result: result}
	}
	if (*c).Result != result {
		return fmt.Errorf("SafetyGates: another gate set the condition result %q; the gates need %q", (*c).Result, result)
	}
	(*c).Rules = append((*c).Rules, rules...)
	if len((*c).Rules) > MaxRulesPerCondition {
		return fmt.Errorf("SafetyGates: the condition would have %d rules, over CodePipeline's %d", len((*c).Rules), MaxRulesPerCondition)
	}
	return nil
}

func windowTZ(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}

// alarmRule is a CloudWatchAlarm rule on one region's alarm: it fails while
// the alarm is in ALARM, watching for wait (the bake) when wait > 0.
func alarmRule(name, alarm string, w watched, wait time.Duration) Rule {
	cfg := map[string]string{"AlarmName": alarm, "AlarmStates": "ALARM"}
	if wait > 0 {
		cfg["WaitTime"] = strconv.Itoa(int(wait.Round(time.Minute) / time.Minute))
	}
	return Rule{Name: name, Provider: "CloudWatchAlarm", Configuration: cfg, Region: w.region, RoleArn: w.role}
}

// watchScript is the watcher the Blockers and Bake actions run. It reads
// its work from the environment, so the script is the same in every stage:
//
//	SAFEPIPE_WATCH     one "role region alarm" line per alarm ("-": no role,
//	                   the pipeline account's own alarm)
//	SAFEPIPE_MINUTES   how long to watch (0: check once)
//	SAFEPIPE_STRICT    1 (bake): a missing alarm fails, and so does
//	                   INSUFFICIENT_DATA at the end of the bake; 0 (blockers):
//	                   both pass, so that a region's first deployment is not
//	                   blocked
//	SAFEPIPE_PIPELINE  the pipeline, to let rollback executions through
//	SAFEPIPE_TZ        the window's time zone, for holidays
//	SAFEPIPE_HOLIDAYS  space-separated YYYY-MM-DD dates with no deployments
//
// Every region is checked every minute; the first alarm in ALARM fails the
// action, which fails the stage and so rolls it back.
const watchScript = `cat > safepipe-watch.sh <<'SAFEPIPE'
set -eu
# A rollback execution re-runs the stage with the previous artifacts: let
# it through, or a failing gate would block the rollback it triggered.
exec_id=$(aws codepipeline get-pipeline-state --name "$SAFEPIPE_PIPELINE" --query "stageStates[?actionStates[?latestExecution.externalExecutionId=='$CODEBUILD_BUILD_ID']].latestExecution.pipelineExecutionId | [0]" --output text || echo unknown)
kind=$(aws codepipeline list-pipeline-executions --pipeline-name "$SAFEPIPE_PIPELINE" --max-items 50 --query "pipelineExecutionSummaries[?pipelineExecutionId=='$exec_id'].executionType | [0]" --output text || echo unknown)
if [ "$kind" = ROLLBACK ]; then echo "safepipe: rollback execution $exec_id: gates pass"; exit 0; fi
today=$(TZ="$SAFEPIPE_TZ" date +%F)
for h in $SAFEPIPE_HOLIDAYS; do
  if [ "$h" = "$today" ]; then echo "safepipe: $today is a holiday ($SAFEPIPE_TZ): no deployments"; exit 1; fi
done
state() {
  if [ "$1" = - ]; then
    aws cloudwatch describe-alarms --region "$2" --alarm-names "$3" --alarm-types CompositeAlarm MetricAlarm --query '[CompositeAlarms[].StateValue, MetricAlarms[].StateValue][]' --output text
    return
  fi
  creds=$(aws sts assume-role --role-arn "$1" --role-session-name safepipe-watch --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)
  set -- "$@" $creds
  AWS_ACCESS_KEY_ID=$4 AWS_SECRET_ACCESS_KEY=$5 AWS_SESSION_TOKEN=$6 aws cloudwatch describe-alarms --region "$2" --alarm-names "$3" --alarm-types CompositeAlarm MetricAlarm --query '[CompositeAlarms[].StateValue, MetricAlarms[].StateValue][]' --output text
}
end=$(( $(date +%s) + SAFEPIPE_MINUTES * 60 ))
final=0
while :; do
  [ "$(date +%s)" -lt "$end" ] || final=1
  echo "$SAFEPIPE_WATCH" | while read -r role region alarm; do
    [ -n "$role" ] || continue
    s=$(state "$role" "$region" "$alarm")
    case "$s" in
      *INSUFFICIENT_DATA*) if [ "$SAFEPIPE_STRICT$final" = 11 ]; then echo "safepipe: $alarm in $region has no data at the end of the bake"; exit 1; fi ;;
      *ALARM*) echo "safepipe: $alarm in $region is in ALARM"; exit 1 ;;
      "") if [ "$SAFEPIPE_STRICT" = 1 ]; then echo "safepipe: $alarm not found in $region"; exit 1; fi ;;
    esac
  done
  [ "$final" = 0 ] || break
  sleep 60
done
echo "safepipe: every watched alarm stayed out of ALARM"
SAFEPIPE`

// watchStep is one action that checks (bake == 0) or watches for bake the
// alarm of every entry in ws, and refuses holidays. Its role may assume
// each entry's watch role and read the pipeline's executions (to let
// rollbacks through).
func watchStep(id string, s *GatedStage, ws []watched, bake time.Duration, strict bool, tz string, holidays []string) pipelines.Step {
	var lines, roles []string
	for _, w := range ws {
		lines = append(lines, fmt.Sprintf("%s %s %s", w.role, w.region, w.alarm))
		if w.role != "-" {
			roles = append(roles, w.role)
		}
	}
	minutes := int(bake.Round(time.Minute) / time.Minute)
	strictFlag := "0"
	if strict {
		strictFlag = "1"
	}
	if tz == "" {
		tz = "UTC"
	}
	statements := []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("codepipeline:GetPipelineState", "codepipeline:ListPipelineExecutions"),
		Resources: jsii.Strings(fmt.Sprintf("arn:%s:codepipeline:%s:%s:%s", *awscdk.Aws_PARTITION(), s.PipelineRegion, s.PipelineAccount, s.PipelineName)),
	})}
	if len(roles) > 0 {
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("sts:AssumeRole"),
			Resources: jsii.Strings(roles...),
		}))
	}
	var own []string // the pipeline account's alarms, read without a role
	for _, w := range ws {
		if w.role == "-" {
			own = append(own, fmt.Sprintf("arn:%s:cloudwatch:%s:%s:alarm:%s", *awscdk.Aws_PARTITION(), w.region, s.PipelineAccount, w.alarm))
		}
	}
	if len(own) > 0 {
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("cloudwatch:DescribeAlarms"),
			Resources: jsii.Strings(own...),
		}))
	}
	return pipelines.NewCodeBuildStep(jsii.String(id), &pipelines.CodeBuildStepProps{
		Commands: jsii.Strings(watchScript, "sh safepipe-watch.sh"),
		Env: &map[string]*string{
			"SAFEPIPE_WATCH":    jsii.String(strings.Join(lines, "\n")),
			"SAFEPIPE_MINUTES":  jsii.String(strconv.Itoa(minutes)),
			"SAFEPIPE_STRICT":   jsii.String(strictFlag),
			"SAFEPIPE_TZ":       jsii.String(tz),
			"SAFEPIPE_HOLIDAYS": jsii.String(strings.Join(holidays, " ")),
			"SAFEPIPE_PIPELINE": jsii.String(s.PipelineName),
		},
		BuildEnvironment:     &awscodebuild.BuildEnvironment{ComputeType: awscodebuild.ComputeType_SMALL},
		Timeout:              awscdk.Duration_Minutes(jsii.Number(float64(minutes + 30))),
		RolePolicyStatements: &statements,
	})
}

// ActionReserver is an optional capability of a Gate: the number of
// actions it may add to every production stage, which the planner keeps
// free under CodePipeline's 50-action limit.
type ActionReserver interface {
	ReservedActions() int
}
