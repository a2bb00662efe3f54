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
}

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
	var ws []watched
	for _, d := range s.Deployments {
		if slices.ContainsFunc(ws, func(w watched) bool { return w.region == d.Target.Region }) {
			return fmt.Errorf("SafetyGates: region %s is deployed twice in the stage", d.Target.Region)
		}
		ws = append(ws, watched{account: d.Account, region: d.Target.Region, role: role(d.Account, d.Target.Region), oneBox: d.Target.OneBox})
	}
	bake := s.Deployments[0].Bake
	if s.Environment == Gamma && !s.Deployments[0].Target.OneBox {
		bake = g.GammaBake
		if bake == 0 {
			bake = 30 * time.Minute
		}
	}

	c := s.Conditions
	c.OnFailure = &Condition{Result: "ROLLBACK"}

	// Blockers: before the stage starts.
	var entry []Rule
	if s.Environment == Prod {
		entry = append(entry, Rule{
			Name:          RuleDeploymentWindow,
			Provider:      "DeploymentWindow",
			Configuration: map[string]string{"Cron": s.Window.Cron(), "TimeZone": windowTZ(s.Window.TimeZone)},
		})
	}
	if g.OrganizationAlarm != "" {
		entry = append(entry, Rule{
			Name:          RuleOrganizationAlarm,
			Provider:      "CloudWatchAlarm",
			Configuration: map[string]string{"AlarmName": g.OrganizationAlarm, "AlarmStates": "ALARM"},
			Region:        g.OrganizationAlarmRegion,
			RoleArn:       g.OrganizationAlarmRoleArn,
		})
	}
	var blockSteps []watched
	if len(entry)+len(ws) <= MaxRulesPerCondition {
		for _, w := range ws {
			entry = append(entry, alarmRule(RuleBlockerPrefix+w.region, alarms.AggregateName(g.Team), w, 0))
		}
	} else {
		blockSteps = ws
	}
	var holidays []string
	if s.Environment == Prod {
		holidays = s.Window.Holidays
	}
	if len(blockSteps) > 0 || len(holidays) > 0 {
		s.Wave.AddPre(watchStep(StepBlockers, g.Team, blockSteps, 0, false, windowTZ(s.Window.TimeZone), holidays))
	}
	if len(entry) > 0 {
		c.BeforeEntry = &Condition{Result: "FAIL", Rules: entry}
	}

	// Bake: after the stage deploys.
	if bake <= 0 {
		return nil
	}
	if len(ws) <= MaxNativeRegions {
		var rules []Rule
		for _, w := range ws {
			rules = append(rules, alarmRule(RuleBakePrefix+w.region, alarms.BakeName(g.Team, w.oneBox), w, bake))
		}
		c.OnSuccess = &Condition{Result: "ROLLBACK", Rules: rules}
		return nil
	}
	s.Wave.AddPost(watchStep(StepBake, g.Team, ws, bake, true, "", nil))
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
//	SAFEPIPE_WATCH     one "role region alarm" line per region
//	SAFEPIPE_MINUTES   how long to watch (0: check once)
//	SAFEPIPE_STRICT    1: a missing alarm fails (bake); 0: it passes (blockers,
//	                   so that a region's first deployment is not blocked)
//	SAFEPIPE_TZ        the window's time zone, for holidays
//	SAFEPIPE_HOLIDAYS  space-separated YYYY-MM-DD dates with no deployments
//
// Every region is checked every minute; the first alarm in ALARM fails the
// action, which fails the stage and so rolls it back.
const watchScript = `cat > safepipe-watch.sh <<'SAFEPIPE'
set -eu
today=$(TZ="$SAFEPIPE_TZ" date +%F)
for h in $SAFEPIPE_HOLIDAYS; do
  if [ "$h" = "$today" ]; then echo "safepipe: $today is a holiday ($SAFEPIPE_TZ): no deployments"; exit 1; fi
done
state() {
  creds=$(aws sts assume-role --role-arn "$1" --role-session-name safepipe-watch --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)
  set -- "$@" $creds
  AWS_ACCESS_KEY_ID=$4 AWS_SECRET_ACCESS_KEY=$5 AWS_SESSION_TOKEN=$6 aws cloudwatch describe-alarms --region "$2" --alarm-names "$3" --alarm-types CompositeAlarm MetricAlarm --query '[CompositeAlarms[].StateValue, MetricAlarms[].StateValue][]' --output text
}
end=$(( $(date +%s) + SAFEPIPE_MINUTES * 60 ))
while :; do
  echo "$SAFEPIPE_WATCH" | while read -r role region alarm; do
    [ -n "$role" ] || continue
    s=$(state "$role" "$region" "$alarm")
    case "$s" in
      *ALARM*) echo "safepipe: $alarm in $region is in ALARM"; exit 1 ;;
      "") if [ "$SAFEPIPE_STRICT" = 1 ]; then echo "safepipe: $alarm not found in $region"; exit 1; fi ;;
    esac
  done
  [ "$(date +%s)" -lt "$end" ] || break
  sleep 60
done
echo "safepipe: every watched alarm stayed out of ALARM"
SAFEPIPE`

// watchStep is one action that checks (bake == 0) or watches for bake the
// named alarm of every region in ws, and refuses holidays.
func watchStep(id, team string, ws []watched, bake time.Duration, strict bool, tz string, holidays []string) pipelines.Step {
	var lines, roles []string
	for _, w := range ws {
		alarm := alarms.AggregateName(team)
		if bake > 0 {
			alarm = alarms.BakeName(team, w.oneBox)
		}
		lines = append(lines, fmt.Sprintf("%s %s %s", w.role, w.region, alarm))
		roles = append(roles, w.role)
	}
	minutes := int(bake.Round(time.Minute) / time.Minute)
	strictFlag := "0"
	if strict {
		strictFlag = "1"
	}
	if tz == "" {
		tz = "UTC"
	}
	props := &pipelines.CodeBuildStepProps{
		Commands: jsii.Strings(watchScript, "sh safepipe-watch.sh"),
		Env: &map[string]*string{
			"SAFEPIPE_WATCH":    jsii.String(strings.Join(lines, "\n")),
			"SAFEPIPE_MINUTES":  jsii.String(strconv.Itoa(minutes)),
			"SAFEPIPE_STRICT":   jsii.String(strictFlag),
			"SAFEPIPE_TZ":       jsii.String(tz),
			"SAFEPIPE_HOLIDAYS": jsii.String(strings.Join(holidays, " ")),
		},
		BuildEnvironment: &awscodebuild.BuildEnvironment{ComputeType: awscodebuild.ComputeType_SMALL},
		Timeout:          awscdk.Duration_Minutes(jsii.Number(float64(minutes + 30))),
	}
	if len(roles) > 0 {
		props.RolePolicyStatements = &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("sts:AssumeRole"),
			Resources: jsii.Strings(roles...),
		})}
	}
	return pipelines.NewCodeBuildStep(jsii.String(id), props)
}

// ActionReserver is an optional capability of a Gate: the number of
// actions it may add to every production stage, which the planner keeps
// free under CodePipeline's 50-action limit.
type ActionReserver interface {
	ReservedActions() int
}
