package verify

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/safepipe/safepipe/waves"

	"github.com/safepipe/safepipe/model"
)

// Rule IDs. They are stable: a rule keeps its ID for ever, and a retired
// ID is never reused.
const (
	RuleSuppressionReason  = "SP000"
	RuleRollback           = "SP001"
	RuleBakeMissing        = "SP002"
	RuleBakeShort          = "SP003"
	RuleBakeCoverage       = "SP004"
	RuleWindow             = "SP005"
	RuleBlocker            = "SP006"
	RuleFirstStage         = "SP007"
	RuleTwoCells           = "SP008"
	RuleRegionTwice        = "SP009"
	RulePreProd            = "SP010"
	RuleLimits             = "SP011"
	RuleDeployAlarms       = "SP012"
	RuleDeployRollback     = "SP013"
	RuleMinHealthy         = "SP014"
	RuleZonalMonitor       = "SP015"
	RuleAliasShift         = "SP016"
	RuleAggregate          = "SP017"
	RuleNoProduction       = "SP018"
	RuleV1                 = "SP019"
	RuleConditionLimits    = "SP020"
	RuleWindowCoverage     = "SP021"
	RuleAlarmContract      = "SP022"
	RuleECSCircuitBreaker  = "SP023"
	RuleECSAlarms          = "SP024"
	RuleAppConfigStrategy  = "SP025"
	RuleAppConfigMonitors  = "SP026"
	RuleTemplateLimits     = "SP027"
	RuleNoOpStage          = "SP028"
	RuleGateInRollback     = "SP029"
	RuleTwoPhase           = "SP030"
	RuleUpgradeDowngrade   = "SP031"
	RuleStructureChurn     = "SP032"
	RuleTrustCondition     = "SP033"
	RuleUnverifiable       = "SP034"
	RuleUnreadStack        = "SP035"
	RuleRegionRollback     = "SP036"
	RuleOneBoxWhole        = "SP037"
	RuleRampOutlastsBake   = "SP038"
	RuleAlarmNameCollision = "SP039"
)

// construct is how the fix texts mention safepipe: one way among others.
const construct = "safepipe's SafetyGates construct does this"

// Rules lists every rule. Fix texts say what to add in CloudFormation
// (and CDK) terms, so any team can act on them; safepipe's constructs are
// one way to get there.
var Rules = []RuleInfo{
	{RuleSuppressionReason, "suppression-reason", Error,
		"A suppression or an external-alarm declaration without a reason hides a risk nobody owns.",
		"Add a reason to the suppression or declaration."},
	{RuleRollback, "prod-rollback", Error,
		"A failed production stage must undo itself without a human.",
		"Give the stage an OnFailure condition with Result ROLLBACK (CDK: onFailure: { result: Result.ROLLBACK } on a V2 pipeline stage); " + construct + "."},
	{RuleBakeMissing, "prod-bake", Error,
		"A change must bake in a stage before it reaches the next one.",
		"Add an OnSuccess condition (Result ROLLBACK) with a CloudWatchAlarm rule on the region's aggregate alarm and a WaitTime, or a watch action after the deploy actions; " + construct + "."},
	{RuleBakeShort, "bake-floor", Error,
		"Bakes shorter than the floor for their position miss slow failures.",
		"Raise the rule's WaitTime (or the watch action's minutes) to the floor, or expedite deliberately with a suppression and its reason."},
	{RuleBakeCoverage, "bake-every-region", Error,
		"A bake that does not watch a region lets that region's failure through.",
		"Watch every region the stage deploys to: one CloudWatchAlarm rule per region (five per condition at most), or a fan-in action beyond five; " + construct + "."},
	{RuleWindow, "deployment-window", Error,
		"Production changes start only when people are there to respond.",
		"Add a DeploymentWindow rule (Cron, TimeZone) to the stage's BeforeEntry condition with Result FAIL. To pass SP006 as well, keep the alarm blockers out of that condition — \"After the deployment window opens, CodePipeline does not check the CloudWatchAlarm alarm again\" (rule-reference-DeploymentWindow) — and check them in an action at the stage's first run order that fails while an alarm is in ALARM (declare what it checks with the SAFEPIPE_WATCH environment variable, so verify can read it), or fold window and blockers into one alarm an entry CloudWatchAlarm rule watches, kept in ALARM outside the window; " + construct + " (the second way)."},
	{RuleBlocker, "alarm-blocker", Error,
		"Deploying into a region already in alarm compounds an incident.",
		"Block entry on each region's aggregate alarm: CloudWatchAlarm rules (AlarmStates ALARM) in a BeforeEntry condition with Result FAIL and no DeploymentWindow rule, or a check action at the stage's first run order that fails while an alarm is in ALARM (its SAFEPIPE_WATCH environment variable names the alarms). A stage with a window (SP005) can do only the second natively, since a CloudWatchAlarm rule beside a DeploymentWindow rule is not checked again when the window opens; or fold window and blockers into one entry gate alarm; " + construct + "."},
	{RuleFirstStage, "first-stage-one-region", Error,
		"The first production stage must limit the blast radius to one region.",
		"Make the first production stage (CDK Pipelines: the first wave) deploy to one region only."},
	{RuleTwoCells, "one-cell-per-region", Error,
		"Two AZs or cells of one region at once can take the region down.",
		"Deploy one AZ or cell of a region per stage."},
	{RuleRegionTwice, "region-once-per-stage", Error,
		"A region deployed twice in parallel races with itself.",
		"Deploy each stack once per stage, or give the actions different RunOrders."},
	{RulePreProd, "pre-production", Error,
		"Production must be reached through alpha, beta, gamma and a gamma one-box.",
		"Add the missing pre-production stages before the first production stage, or name them so the config's alpha, beta, gamma and gammaOneBox patterns match."},
	{RuleLimits, "codepipeline-limits", Error,
		"CodePipeline rejects pipelines over 50 stages or stages over 50 actions.",
		"Split stages or pipelines (safepipe's planner does this from the policy)."},
	{RuleDeployAlarms, "codedeploy-alarms", Error,
		"A CodeDeploy deployment without alarms cannot stop itself.",
		"Set AlarmConfiguration (Enabled true, Alarms) on the deployment group (CDK: alarms on the LambdaDeploymentGroup/EcsDeploymentGroup) with the one-box and aggregate alarms."},
	{RuleDeployRollback, "codedeploy-auto-rollback", Error,
		"A stopped or failed deployment must roll back by itself.",
		"Set AutoRollbackConfiguration Enabled with Events DEPLOYMENT_FAILURE and DEPLOYMENT_STOP_ON_ALARM (CDK: autoRollback: { failedDeployment: true, deploymentInAlarm: true })."},
	{RuleMinHealthy, "min-healthy-hosts", Error,
		"Replacing more than a third of a fleet at once risks capacity.",
		"Keep at least 67% healthy: a CodeDeploy config with MinimumHealthyHosts FLEET_PERCENT 67 or more, or an ECS service with DeploymentConfiguration MinimumHealthyPercent 67 or more (CDK: minHealthyPercent)."},
	{RuleZonalMonitor, "zonal-monitor", Error,
		"A zonal deployment without monitor time moves to the next zone blind.",
		"Set MonitorDurationInSeconds and FirstZoneMonitorDurationInSeconds in the deployment config's ZonalConfig."},
	{RuleAliasShift, "lambda-alias-shift", Warning,
		"Repointing a production alias at once sends all traffic to untested code.",
		"Shift the alias with CodeDeploy (an UpdatePolicy CodeDeployLambdaAliasUpdate; CDK: LambdaDeploymentGroup) or with alias routing weights."},
	{RuleAggregate, "aggregate-alarm", Error,
		"Gates and rollback need, in every production region, one alarm that fires when any of the region's high-severity alarms does.",
		"Create, in a stack of each production account and region, a composite alarm whose AlarmRule ORs the region's high-severity alarms (CDK: new CompositeAlarm with AlarmRule.anyOf), or name it in the config (aggregate) or declare it external; safepipe's alarms.NewRollbackAlarms does this."},
	{RuleNoProduction, "production-unrecognised", Error,
		"A pipeline that deploys but has no stage verify recognises as production gets none of the production checks.",
		"Tell verify which stages are production: name them (the config's production pattern; default: a word prod or production), tag their stacks Environment=prod (or the config's productionTag), or list the production accounts in the config (productionAccounts). A pipeline that never reaches production suppresses SP018 with that reason."},
	{RuleV1, "pipeline-v1", Error,
		"Stage conditions (rollback on failure, bakes, blockers, deployment windows) exist only in V2 pipelines.",
		"Set PipelineType V2 on the pipeline (CDK: pipelineType: PipelineType.V2, or CDK Pipelines' pipelineType) and keep its conditions."},
	{RuleConditionLimits, "condition-limits", Error,
		"CodePipeline allows one condition per stage entry, success and failure, with at most five rules each; more is rejected.",
		"Keep one condition with five rules or fewer; watch more regions with a fan-in rule or action (" + construct + " beyond five regions)."},
	{RuleWindowCoverage, "window-coverage", Error,
		"A deployment window that is always open is no window; one that never opens stops the pipeline for good.",
		"Write the DeploymentWindow Cron to open on working hours only, e.g. \"* * 9-16 ? * MON-THU\", with the team's TimeZone."},
	{RuleAlarmContract, "alarm-contract", Error,
		"A gate or deployment that watches an alarm nobody creates watches nothing.",
		"Create the alarm in a stack of that account and region (CDK: new Alarm/CompositeAlarm with that alarmName), or declare it in the config's externalAlarms (or the pipeline's safepipe:externalAlarms metadata) with a reason."},
	{RuleECSCircuitBreaker, "ecs-circuit-breaker", Error,
		"An ECS rolling deployment without a circuit breaker keeps replacing tasks that never become healthy.",
		"Set DeploymentConfiguration DeploymentCircuitBreaker { Enable: true, Rollback: true } on the service (CDK: circuitBreaker: { rollback: true })."},
	{RuleECSAlarms, "ecs-deployment-alarms", Error,
		"An ECS deployment that watches no alarm rolls out a bad version to every task.",
		"Set DeploymentConfiguration Alarms { AlarmNames: [the one-box and aggregate alarms], Enable: true, Rollback: true } on the service (CDK: deploymentAlarms)."},
	{RuleAppConfigStrategy, "appconfig-strategy", Error,
		"A configuration deployed to every production target at once has no blast-radius limit.",
		"Use a deployment strategy that grows gradually with a bake (AppConfig.Linear20PercentEvery6Minutes, or GrowthFactor under 100 with DeploymentDurationInMinutes and FinalBakeTimeInMinutes)."},
	{RuleAppConfigMonitors, "appconfig-monitors", Error,
		"AppConfig rolls a configuration back only on the alarms of the environment's monitors.",
		"Give the production AppConfig environment Monitors with the region's aggregate alarm (AlarmArn and AlarmRoleArn; CDK: monitors: [Monitor.fromCloudWatchAlarm(alarm)])."},
	{RuleTemplateLimits, "template-limits", Error,
		"CloudFormation refuses a template over 1 MB or a stack over 500 resources, in the middle of a deployment.",
		"Split the stack (CDK: more stacks in the stage, or nested stacks)."},
	{RuleNoOpStage, "no-op-stage", Error,
		"A production stage that redeploys exactly what the stage before it deployed, to the same stacks, does nothing: its gates and bakes give false confidence, and the stage before it was not the smaller step it looked like.",
		"Make the stage deploy what it is named for (one-box then the rest of the region, or another region), or remove it."},
	{RuleGateInRollback, "gate-in-rolling-back-stage", Warning,
		"A gate inside a stage that rolls back on failure turns \"do not start\" into a rollback: a new execution of the stage with the previous revision, started while the gate's alarm is firing.",
		"Check the alarms in the stage's BeforeEntry condition (Result FAIL), where refusing means not entering (not in a condition that also has a DeploymentWindow rule: CodePipeline does not re-check those alarms when the window opens), or give OnFailure a condition so that a refusal fails the stage without rolling it back."},
	{RuleTwoPhase, "two-phase-in-one-release", Error,
		"A change that is not rollback-safe in one step is safe only as two releases: prepare (readers accept both forms) everywhere, then activate (writers switch). One release that carries both lets a writer write what a reader elsewhere, or the version a rollback restores, rejects.",
		"Ship the prepare in this release and the activate in the next one, once every production target runs the prepare (safepipe: twophase.Change with Phase prepare, then activate; SafetyGates.Changes gates the activation)."},
	{RuleUpgradeDowngrade, "upgrade-downgrade-test", Warning,
		"A version can be right alone and still break customers while it serves next to the previous one, or when a rollback brings the previous one back; only deploying forward and back in a prod-like environment, with every API and batch job running, shows it before production.",
		"Add an upgrade-downgrade test before production: in a prod-like, multi-AZ pre-production region, deploy the new version to half, to all, the previous version back the same way, then the new one again, each step baked and gated (safepipe: BasePipelineProps.UpgradeDowngrade). Name its stages so that the config's upgradeDowngrade pattern matches them, or suppress SP031 with the reason."},
	{RuleStructureChurn, "rollback-across-structure-versions", Error,
		"A content hash in an action's configuration (an asset key, a revision) changes the pipeline's structure with every release, and CodePipeline only rolls a stage back to an execution started in the current structure version: the stage can never roll back.",
		"Keep per-release values out of the pipeline's definition: let the action read them when it runs (an output of the stack the stage deploys, a variable of the stage's deploy action, the build's artifact); safepipe's server deploy step reads its revision from the stack's output."},
	{RuleTrustCondition, "trust-without-condition", Error,
		"A role that trusts a whole account (its root, or its ID) with no condition can be assumed by any principal of that account whose own policies allow sts:AssumeRole: a build, a developer, a compromised function can then deploy to production or turn its alarms off.",
		"Name the roles that must assume it: keep the account as Principal and add a Condition ArnEquals/ArnLike on aws:PrincipalArn with their ARNs (for several roles, give them a name prefix of their own and match arn:aws:iam::ACCOUNT:role/PREFIX*), or make one role the Principal (CDK: new AccountPrincipal(account).withConditions({ArnLike: {'aws:PrincipalArn': arn}})); a third party's role uses sts:ExternalId; safepipe's roles carry such conditions."},
	{RuleUnverifiable, "unverifiable-deploy", Warning,
		"A deployment verify cannot see into — a build, command or function that acts in another account through a role, a stage named for production that deploys only through builds, or a deployment group a custom resource creates — is checked by no rule: its alarms, rollback and pace are unknown. It is reported, never passed in silence.",
		"Deploy through an action or resource verify reads (a CloudFormation or CodeDeploy action, a deployment group of the stack) where you can; otherwise review the script or the custom resource by hand and suppress SP034 for it with what that review found."},
	{RuleRegionRollback, "partial-region-rollback", Error,
		"CodePipeline rolls back the failed stage only: when a later step of a region (an AZ) rolls back, what an earlier step of its wave deployed there on its own (the one-box, an earlier AZ's stacks or groups) keeps the change, and the region is left half on it.",
		"Roll the earlier steps back with the later one: safepipe's gate controller does it for the zonal shape (gates rollsBack: RollbackStage of each earlier step, latest first); or make each step redeploy what the earlier ones did; or suppress SP036 with the runbook that rolls them back by hand."},
	{RuleOneBoxWhole, "one-box-moves-the-region", Error,
		"A one-box step exists to put the change on a small share of a region (at most a tenth of its traffic) before the rest; one that rolls an ECS service of several tasks, or switches all of a Lambda alias, moves the whole region in the step meant to limit it.",
		"Give the one-box step its own small target: a one-task ECS service (or a canary task set) with its own alarm beside the main service, a Lambda alias canary (safepipe: deploy.LambdaProps.OneBox), a one-instance CodeDeploy group; deploy the rest of the region in the next step."},
	{RuleRampOutlastsBake, "ramp-outlasts-bake", Error,
		"A ramped Lambda alias (safepipe's ramp driver) raises the new version's share on its own clock, counted from the deployment, as the stage's bake is. A stage whose bake ends before the ramp reaches 100% promotes the change to the next wave with this region on a share of it, and the region's full share is watched by no bake; a ramp verify cannot read is reported the same way.",
		"Make the stage's bake at least the ramp's holds, two minutes of the driver's tick per step and the longest hold again (model.Ramp.BakeNeeded), or shorten the holds; ramp on a composite alarm (the region's aggregate), never on a metric alarm that can hold the ramp in INSUFFICIENT_DATA."},
	{RuleAlarmNameCollision, "alarm-name-collision", Error,
		"Two stacks create an alarm of the same name in one account and region — two environments, or two pipelines of one team, sharing an account. An alarm name is unique per account and region, and PutMetricAlarm creates or updates: the stacks share one alarm, whose configuration is whichever stack deployed last, so a gate or deployment can watch the other environment's alarm, and deleting one stack deletes the other's alarm. The findings that follow (aggregates, blockers, bakes) are then about the wrong alarm.",
		"Name alarms per environment and pipeline (safepipe: Deployment.Alarms carries the team, the environment and the cell; give two pipelines of one team different Team names or accounts)."},
	{RuleUnreadStack, "unread-production-stack", Info,
		"A production stack whose template is not in the input (a lone pipeline template deploying what its build writes), or a deployment group, service or application verify cannot find, is checked by none of the rules on what a production stack holds (SP012 to SP017, SP023 to SP026): its alarms, rollback and pace are unknown. It is reported so that a pass is not read as covering it.",
		"Verify the cloud assembly the pipeline comes from (it holds every template the pipeline deploys); for a pipeline written by hand, also run verify on each template it deploys (a lone stack template is checked for its deployment groups, ECS services, AppConfig deployments and alarms), or review those stacks by hand."},
}

func ruleInfo(id string) RuleInfo {
	for _, r := range Rules {
		if r.ID == id {
			return r
		}
	}
	panic("verify: unknown rule " + id)
}

// checker runs the rules over what was read.
type checker struct {
	cc        *compiled
	templates []*Template
	// stages are what the report says of each stage (Report.Stages).
	stages []StageReport
	// asm: the stacks of a cloud assembly are known (not a lone template).
	asm      bool
	byPath   map[string]*Template // assembly-relative path → template
	alarms   *alarmIndex
	external []ExternalAlarm
	findings []Finding
	order    map[string]int // "pipeline/stage" → position, for sorting
	// pipelineTemplate maps a pipeline's logical ID to its template.
	pipelineTemplate map[string]string
	checked          map[*Template]bool
	contracted       map[*Template]bool
	reported         map[string]bool
	hashes           map[*Template]string
	bases, waves     map[string]string
	// aggregateCache: "account/region" → alarms playing the aggregate role.
	aggregateCache map[string][]*alarm
	// prodTemplates: "account/region" → production templates there.
	prodTemplates map[string][]*Template
}

func (c *checker) add(rule string, f Finding, format string, args ...any) {
	info := ruleInfo(rule)
	f.Rule, f.Name, f.Severity, f.Fix = info.ID, info.Name, info.Severity, info.Fix
	f.Message = fmt.Sprintf(format, args...)
	key := f.Rule + "\x00" + f.Pipeline + "\x00" + f.Stage + "\x00" + f.Region + "\x00" + f.Resource + "\x00" + f.Template + "\x00" + f.Message
	if c.reported[key] {
		return
	}
	c.reported[key] = true
	c.findings = append(c.findings, f)
}

// stageInfo is a production stage's position.
type stageInfo struct {
	oneBox, lastOfWave, firstWave, bakeRequired bool
	floor                                       int
	position                                    string
}

func envKey(account, region string) string { return account + "/" + region }

// contentHash is a value that changes with content: a SHA-256 in hex, as
// CDK names assets.
var contentHash = regexp.MustCompile(`[0-9a-f]{64}`)

// projectConfigHash is CDK Pipelines' own action variable hashing a build
// project's configuration (to restart the action when the project
// changes), which a code change leaves as it is.
var projectConfigHash = regexp.MustCompile(`\{"name":"_PROJECT_CONFIG_HASH","type":"PLAINTEXT","value":"[0-9a-f]{64}"\}`)

// structureChurn reports the actions of a stage that can roll back whose
// configuration carries a content hash. "The pipeline can only roll back
// to a previous execution if the previous execution was started in the
// current pipeline structure version."
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html):
// a value that changes with every release makes every release a new
// structure version.
func (c *checker) structureChurn(s Stage, at Finding) {
	rollsBack := false
	for _, cd := range []*Condition{s.OnFailure, s.OnSuccess} {
		rollsBack = rollsBack || cd != nil && cd.Result == "ROLLBACK"
	}
	if !rollsBack {
		return
	}
	for _, a := range s.Actions {
		for _, k := range sortedKeys(a.Configuration) {
			v := projectConfigHash.ReplaceAllString(a.Configuration[k], "")
			if h := contentHash.FindString(v); h != "" {
				c.add(RuleStructureChurn, at, "stage %s rolls back, but action %s's %s carries a content hash (%s…): every release that changes it is a new pipeline structure version, to which no earlier execution belongs, so the stage cannot roll back", Escape(s.Name), Escape(a.Name), Escape(k), h[:12])
				break
			}
		}
	}
}

func (c *checker) pipeline(p Pipeline) {
	where := Finding{Pipeline: p.LogicalID, Template: p.Template.Path}
	c.pipelineTemplate[p.LogicalID] = p.Template.Path
	for i, s := range p.Stages {
		c.order[p.LogicalID+"/"+s.Name] = i + 1
	}
	if n := len(p.Stages); n > waves.MaxStages {
		c.add(RuleLimits, where, "the pipeline has %d stages; CodePipeline allows %d", n, waves.MaxStages)
	}
	withConditions := []string{}
	for _, s := range p.Stages {
		at := where
		at.Stage = s.Name
		if n := len(s.Actions); n > waves.MaxActionsPerStage {
			c.add(RuleLimits, at, "stage %s has %d actions; CodePipeline allows %d", s.Name, n, waves.MaxActionsPerStage)
		}
		c.conditionLimits(s, at)
		c.structureChurn(s, at)
		if s.BeforeEntry != nil || s.OnSuccess != nil || s.OnFailure != nil {
			withConditions = append(withConditions, s.Name)
		}
	}
	// https://docs.aws.amazon.com/codepipeline/latest/userguide/pipeline-types.html:
	// "V2 type pipelines have the same structure as a V1 type, along with
	// additional parameters for release safety and trigger
	// configuration"; stage conditions are those parameters.
	if p.Type == "V1" && len(withConditions) > 0 {
		c.add(RuleV1, where, "the pipeline is V1 but stages %s carry conditions, which only V2 pipelines have", strings.Join(withConditions, ", "))
	}
	roles := c.roles(p)
	for i, r := range roles {
		c.stages = append(c.stages, StageReport{Pipeline: p.LogicalID, Stage: p.Stages[i].Name, Deploys: r.deploys, Production: r.production, Why: r.why, PreProduction: r.preProd})
	}
	if c.asm {
		c.gateContract(p)
		for _, r := range roles {
			for _, t := range r.targets {
				if t.tpl != nil {
					c.deploymentContract(t.tpl)
				}
			}
		}
	}
	first := slices.IndexFunc(roles, func(r stageRole) bool { return r.production })
	if first < 0 {
		c.unverifiable(p, roles, where)
		// A stage named for a pre-production role (Dev, Test, Staging…,
		// or the upgrade-downgrade test) is not listed: a pipeline that
		// only deploys those never reaches production, which needs no
		// rule.
		var deploying []string
		for i, r := range roles {
			if r.deploys && r.preProd == "" && !model.Matches(c.cc.upDown, p.Stages[i].Name) {
				var regions []string
				for _, t := range r.targets {
					if !slices.Contains(regions, regionName(t.region)) {
						regions = append(regions, regionName(t.region))
					}
				}
				deploying = append(deploying, fmt.Sprintf("%s (%s)", p.Stages[i].Name, strings.Join(regions, ", ")))
			}
		}
		if len(deploying) > 0 {
			c.add(RuleNoProduction, where, "the pipeline deploys in %s, but no stage is recognised as production, so no production rule is checked: name production stages with the word prod, tag their stacks Environment=prod, or list the production accounts in the verify config (productionAccounts)",
				strings.Join(deploying, "; "))
		}
		return
	}
	if p.Type == "V1" {
		c.add(RuleV1, where, "the pipeline is V1, so its production stages (from %s) can have no rollback, bake, blocker or window condition", p.Stages[first].Name)
	}
	c.unverifiable(p, roles, where)
	c.unread(p, roles, where)
	c.preProd(p, roles, first, where)
	prod := p.Stages[first:]
	if rs := prod[0].DeployRegions(); len(rs) > 1 {
		f := where
		f.Stage = prod[0].Name
		c.add(RuleFirstStage, f, "the first production stage %s (production because %s) deploys to %d regions at once (%s)", prod[0].Name, roles[first].why, len(rs), strings.Join(regionNames(rs), ", "))
	}
	// Production templates by account and region, for the aggregate role.
	type env struct{ account, region, stage string }
	var envs []env
	for i := first; i < len(roles); i++ {
		if !roles[i].production {
			continue
		}
		for _, t := range roles[i].targets {
			k := envKey(t.account, t.region)
			if _, ok := c.prodTemplates[k]; !ok {
				c.prodTemplates[k] = nil
				envs = append(envs, env{t.account, t.region, p.Stages[i].Name})
			}
			if t.tpl != nil && !slices.Contains(c.prodTemplates[k], t.tpl) {
				c.prodTemplates[k] = append(c.prodTemplates[k], t.tpl)
			}
		}
	}
	// Stages whose names give no wave form waves by where they deploy: a
	// run of production stages deploying the same regions is one wave (an
	// infrastructure stage and the application's stage in one region are
	// one wave, not two).
	run, last := 0, ""
	for _, s := range prod {
		if _, named := c.waves[s.Name]; named {
			continue
		}
		if c.waveOf(s.Name) != "" {
			continue
		}
		key := strings.Join(slices.Sorted(slices.Values(s.DeployRegions())), ",")
		if key != last {
			run++
			last = key
		}
		c.waves[s.Name] = fmt.Sprintf("(regions %s, run %d)", key, run)
	}
	firstWave := c.waveOf(prod[0].Name)
	// The last part of a split stage bakes every part's regions.
	partRegions := map[string][]string{}
	for _, s := range prod {
		base := c.baseOf(s.Name)
		for _, r := range s.DeployRegions() {
			if !slices.Contains(partRegions[base], r) {
				partRegions[base] = append(partRegions[base], r)
			}
		}
	}
	prev := -1 // the last deploying stage before the current one
	for i := range first {
		if roles[i].deploys {
			prev = i
		}
	}
	for k, s := range prod {
		i := first + k
		if !roles[i].production {
			if roles[i].deploys {
				prev = i
			}
			continue
		}
		info := c.position(prod, k, firstWave)
		bakeRegions := s.DeployRegions()
		if info.bakeRequired {
			bakeRegions = partRegions[c.baseOf(s.Name)]
		}
		c.stage(p, s, info, bakeRegions, where)
		c.regionRollback(p, roles, i, where)
		if prev >= 0 {
			c.noOp(p, s, roles[i], p.Stages[prev], roles[prev], where)
		}
		prev = i
		for _, t := range roles[i].targets {
			if t.tpl != nil {
				c.resources(t.tpl, Finding{Stage: s.Name, Region: t.region, Pipeline: p.LogicalID})
				if info.oneBox {
					c.oneBoxWhole(t.tpl, Finding{Stage: s.Name, Region: t.region, Pipeline: p.LogicalID})
				} else {
					c.rampsOutlast(t.tpl, p, s, Finding{Stage: s.Name, Region: t.region, Pipeline: p.LogicalID})
				}
			}
		}
	}
	if c.asm {
		for _, e := range envs {
			if len(c.aggregatesFor(e.account, e.region)) == 0 && !c.externalAggregate(e.account, e.region) && !c.coveredTogether(e.account, e.region, nil) {
				f := where
				f.Stage, f.Region = e.stage, e.region
				c.add(RuleAggregate, f, "no alarm plays the aggregate role in %s: %s", describeEnv(e.account, e.region), c.whyNoAggregate(e.account, e.region))
			}
		}
	}
}

func describeEnv(account, region string) string {
	if account == "" {
		return regionName(region)
	}
	return fmt.Sprintf("account %s, %s", account, regionName(region))
}

func regionNames(rs []string) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = regionName(r)
	}
	return out
}

// conditionLimits: "Conditions … Minimum 1, Maximum 1" and "Rules …
// Minimum: 1, Maximum: 5"
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-codepipeline-pipeline-beforeentryconditions.html,
// aws-properties-codepipeline-pipeline-condition.html).
func (c *checker) conditionLimits(s Stage, at Finding) {
	for _, kc := range []struct {
		kind string
		c    *Condition
	}{{"BeforeEntry", s.BeforeEntry}, {"OnSuccess", s.OnSuccess}, {"OnFailure", s.OnFailure}} {
		if kc.c == nil {
			continue
		}
		if kc.c.Conditions > 1 {
			c.add(RuleConditionLimits, at, "stage %s's %s lists %d conditions; CodePipeline allows one", s.Name, kc.kind, kc.c.Conditions)
		}
		for i, n := range kc.c.RuleCounts {
			if n > 5 {
				c.add(RuleConditionLimits, at, "stage %s's %s condition %d has %d rules; CodePipeline allows 5", s.Name, kc.kind, i+1, n)
			}
		}
	}
}

func (c *checker) preProd(p Pipeline, roles []stageRole, first int, where Finding) {
	has := map[string]bool{}
	upDown := false
	for i := range first {
		// A pre-production role is played by a stage that deploys: a
		// "Test" stage that runs unit tests is no beta.
		if roles[i].deploys {
			has[roles[i].preProd] = true
		}
		upDown = upDown || (roles[i].deploys && (model.Matches(c.cc.upDown, p.Stages[i].Name) || downgrades(roles[i])))
	}
	if !upDown {
		c.add(RuleUpgradeDowngrade, where, "production (%s) is reached without an upgrade-downgrade test: no pre-production stage deploys a version next to the previous one and rolls back to it", p.Stages[first].Name)
	}
	for _, need := range []string{"an alpha", "a beta", "a gamma", "a gamma one-box"} {
		if !has[need[strings.IndexByte(need, ' ')+1:]] {
			c.add(RulePreProd, where, "production (%s) is reached without %s stage before it", p.Stages[first].Name, need)
		}
	}
}

// baseOf returns a stage's name without its part suffix (memoised: a
// pipeline's stages are compared pairwise).
func (c *checker) baseOf(name string) string {
	if b, ok := c.bases[name]; ok {
		return b
	}
	b := name
	if m := c.cc.part.FindStringSubmatch(name); m != nil {
		b = m[1]
	}
	c.bases[name] = b
	return b
}

// unverifiable reports what verify cannot see into: every opaque target
// (a build, commands or a function that deploys through a role, or in a
// stage whose name says production: opaqueTargets). The stage still counts
// as deploying there, so the stage rules (rollback, bake, window,
// blockers) apply to it.
func (c *checker) unverifiable(p Pipeline, roles []stageRole, where Finding) {
	for i, s := range p.Stages {
		at := where
		at.Stage = s.Name
		for _, t := range roles[i].targets {
			if !t.opaque {
				continue
			}
			if t.account == p.Account || t.account == "" {
				c.add(RuleUnverifiable, at, "stage %s deploys through action %s (%s), which verify does not read: what it changes is checked by no rule", s.Name, t.action, t.provider)
				continue
			}
			who := "account " + t.account
			switch t.account {
			case "*":
				who = "any account (its role may assume roles of every account)"
			case "?":
				who = "an account the template does not name (its role may assume a role given by a parameter or another resource)"
			}
			c.add(RuleUnverifiable, at, "stage %s: action %s (%s) acts in %s through a role: what it deploys there is not read, so no rule checks it", s.Name, t.action, t.provider, who)
		}
	}
}

// unread reports, once per pipeline, what its production stages deploy
// from outside the input: stacks whose templates are not in it (a lone
// pipeline template deploying what its build writes), and CodeDeploy, ECS
// or AppConfig actions whose group, service or application verify cannot
// find while nothing else the stage deploys in that region is read. The
// rules on what a production stack holds (SP012 to SP017, SP023 to SP026)
// then have nothing to check, which verify says (SP035, info) rather than
// pass in silence.
func (c *checker) unread(p Pipeline, roles []stageRole, where Finding) {
	var what []string
	seen := map[string]bool{}
	for i, s := range p.Stages {
		if !roles[i].production {
			continue
		}
		read := map[string]bool{}
		for _, t := range roles[i].targets {
			if t.tpl != nil {
				read[t.region] = true
			}
		}
		for _, t := range roles[i].targets {
			if t.tpl != nil || t.opaque {
				continue
			}
			switch {
			case t.provider == "CloudFormation" && t.templatePath != "":
				key := s.Name + "\x00" + t.region + "\x00" + t.stack
				if !seen[key] {
					seen[key] = true
					what = append(what, fmt.Sprintf("stack %s from %s (stage %s)", orPlaceholder(t.stack, "(unnamed)"), t.templatePath, s.Name))
				}
			case t.provider != "CloudFormation" && !read[t.region]:
				what = append(what, fmt.Sprintf("action %s (%s) of stage %s, whose deployment group, service or application is not in the input", t.action, t.provider, s.Name))
			}
		}
	}
	if len(what) == 0 {
		return
	}
	const shown = 3
	list := strings.Join(what[:min(len(what), shown)], "; ")
	if len(what) > shown {
		list += fmt.Sprintf("; and %d more", len(what)-shown)
	}
	c.add(RuleUnreadStack, where, "%d production deployment(s) deploy what verify cannot read: %s. What they hold (alarms, deployment configurations, ECS and AppConfig settings) is checked by no rule", len(what), list)
}

// waveOf returns a stage's wave, "" when its name has none (memoised).
func (c *checker) waveOf(name string) string {
	if w, ok := c.waves[name]; ok {
		return w
	}
	w := ""
	if m := c.cc.wave.FindStringSubmatch(c.baseOf(name)); len(m) > 1 {
		w = m[1]
	}
	c.waves[name] = w
	return w
}

// position works out a production stage's bake floor from the names of
// the stages after it.
func (c *checker) position(prod []Stage, i int, firstWave string) stageInfo {
	name := prod[i].Name
	base := c.baseOf(name)
	later := prod[i+1:]
	info := stageInfo{oneBox: c.cc.oneBox.MatchString(base), bakeRequired: true, lastOfWave: true}
	for _, s := range later {
		if c.baseOf(s.Name) == base {
			info.bakeRequired = false // an earlier part of a split stage
			break
		}
	}
	wave := c.waveOf(name)
	if wave != "" {
		info.lastOfWave = !slices.ContainsFunc(later, func(s Stage) bool { return c.waveOf(s.Name) == wave })
		info.firstWave = wave == firstWave
		if !info.lastOfWave && strings.HasPrefix(wave, "(regions ") {
			// A stage followed by another deploying the same regions (an
			// infrastructure stage before the application's): the last
			// of the run bakes what both changed there.
			info.bakeRequired = false
		}
	} else {
		info.firstWave = i == 0
	}
	switch {
	case info.lastOfWave && info.firstWave:
		info.floor, info.position = c.cc.floors.FirstWave, "the last stage of the first wave"
	case info.lastOfWave:
		info.floor, info.position = c.cc.floors.LaterWave, "the last stage of a later wave"
	case info.oneBox:
		info.floor, info.position = c.cc.floors.OneBox, "a one-box stage"
	default:
		info.floor, info.position = c.cc.floors.Zonal, "a zonal stage"
	}
	return info
}

func (c *checker) stage(p Pipeline, s Stage, info stageInfo, bakeRegions []string, where Finding) {
	at := where
	at.Stage = s.Name
	if s.OnFailure == nil || s.OnFailure.Result != "ROLLBACK" {
		c.add(RuleRollback, at, "stage %s does not roll back on failure", s.Name)
	}
	cw, cwRule, controlled := controllerWindow(p, s)
	switch w, ok := s.WindowRule(); {
	case !ok && controlled && s.BeforeEntry.Result == "FAIL":
		// safepipe's gate controller applies the window through the entry
		// gate (a DeploymentWindow rule would make the alarm rules beside
		// it go stale; see safepipe_gates.go).
		switch {
		case cw.alwaysOpen():
			c.add(RuleWindowCoverage, at, "stage %s's deployment window (gate %s: %s) is open every minute of every day (168 h a week)", s.Name, cwRule, Escape(cw.String()))
		case cw.neverOpen():
			c.add(RuleWindowCoverage, at, "stage %s's deployment window (gate %s: %s) never opens: the stage would wait for ever", s.Name, cwRule, Escape(cw.String()))
		}
	case !ok:
		c.add(RuleWindow, at, "stage %s has no DeploymentWindow rule (nor a gate controller entry gate that applies a window)", s.Name)
	case s.BeforeEntry.Result != "FAIL":
		c.add(RuleWindow, at, "stage %s's entry condition has result %s: outside the window the stage is skipped, not held", Escape(s.Name), Escape(s.BeforeEntry.Result))
	default:
		win, err := model.ParseWindow(w.Configuration["Cron"])
		switch {
		case err != nil:
			c.add(RuleWindowCoverage, at, "stage %s's deployment window %q is not a valid cron expression: %v", s.Name, w.Configuration["Cron"], err)
		case win.AlwaysOpen():
			c.add(RuleWindowCoverage, at, "stage %s's deployment window %q is open every minute of every day (168 h a week)", s.Name, w.Configuration["Cron"])
		case win.NeverOpen():
			c.add(RuleWindowCoverage, at, "stage %s's deployment window %q never opens (in %d days from %s): the stage would wait for ever", s.Name, w.Configuration["Cron"], win.Days, win.Start.Format("2006-01-02"))
		}
	}
	if s.OnFailure != nil && s.OnFailure.Result == "ROLLBACK" && s.OnFailure.Conditions == 0 {
		for _, a := range s.GateActions() {
			c.add(RuleGateInRollback, at, "stage %s holds its deploy on action %s (%s) but rolls back on failure: when the gate refuses, the stage is rolled back instead of not started", s.Name, a.Name, a.Provider)
		}
	}
	regions := s.DeployRegions()
	blocked := map[string]bool{}
	watched := c.aggregateWatches(p, c.blockers(p, s), nil)
	for _, w := range watched {
		blocked[w.Region] = true
	}
	if len(regions) == 0 && len(watched) == 0 {
		// Production through builds, commands or functions only
		// (opaqueTargets): the regions they change are not read, but a
		// stage that checks no alarm at all blocks on none of them.
		c.add(RuleBlocker, at, "stage %s deploys through code whose regions verify cannot read, and enters without checking any alarm that plays the aggregate role", s.Name)
	}
	for _, r := range regions {
		if !blocked[r] {
			f := at
			f.Region = r
			c.add(RuleBlocker, f, "stage %s enters %s without checking an alarm that plays the aggregate role there", s.Name, regionName(r))
		}
	}
	all := c.bakes(p, s)
	bakes := c.aggregateWatches(p, all, func(w Watch) bool {
		return c.cc.bakeAlarm != nil && c.cc.bakeAlarm.MatchString(w.Alarm)
	})
	switch {
	case !info.bakeRequired || len(bakes) > 0:
	case len(all) == 0:
		c.add(RuleBakeMissing, at, "stage %s has no bake (%s needs %d min on an aggregate alarm)", s.Name, info.position, info.floor)
	default:
		var watched []string
		for _, w := range all {
			if n := fmt.Sprintf("%s (%s)", w.Alarm, regionName(w.Region)); !slices.Contains(watched, n) {
				watched = append(watched, n)
			}
		}
		c.add(RuleBakeMissing, at, "stage %s bakes on %s, none of which plays the aggregate role: a failure that alarm does not measure passes the bake (%s needs %d min on an aggregate alarm)", s.Name, strings.Join(watched[:min(len(watched), 3)], ", "), info.position, info.floor)
	}
	if len(bakes) > 0 || info.bakeRequired {
		baked := map[string]int{}
		for _, w := range bakes {
			baked[w.Region] = max(baked[w.Region], w.Minutes)
		}
		for _, r := range bakeRegions {
			m, ok := baked[r]
			f := at
			f.Region = r
			switch {
			case !ok && len(bakes) > 0:
				c.add(RuleBakeCoverage, f, "stage %s deploys to %s but its bake does not watch that region's aggregate alarm", s.Name, regionName(r))
			case ok && info.bakeRequired && m < info.floor:
				c.add(RuleBakeShort, f, "stage %s bakes %s for %d min; %s needs %d min", s.Name, regionName(r), m, info.position, info.floor)
			}
		}
	}
	c.cells(p, s, at)
}

// cells finds two AZs/cells of one region, or one stack twice, deployed by
// one stage at the same time.
func (c *checker) cells(p Pipeline, s Stage, at Finding) {
	type key struct {
		region, account string
		order           int
	}
	cells := map[string]map[string]bool{}
	stacks := map[key]map[string]int{}
	redeploys := c.redeploys(p, s)
	for _, a := range s.Actions {
		if !a.Deploys() || a.Provider != "CloudFormation" {
			continue
		}
		if redeploys[a.Region+"\x00"+a.Configuration["StackName"]] {
			// The same template an earlier stage of the wave deployed to
			// this stack: no change going forward, and what takes that
			// cell back when this stage rolls back (SP036).
			continue
		}
		for _, src := range []string{a.Name, a.Configuration["StackName"]} {
			if m := c.cc.cell.FindStringSubmatch(src); len(m) > 1 {
				if cells[a.Region] == nil {
					cells[a.Region] = map[string]bool{}
				}
				cells[a.Region][strings.ToLower(m[1])] = true
				break
			}
		}
		// A stack name is unique per account and region: the same name in
		// two accounts (the role CloudFormation runs as, or the one the
		// action assumes, names the account) is two stacks.
		account := arnAccount(a.Configuration["RoleArn"])
		if account == "" {
			account = arnAccount(a.RoleArn)
		}
		k := key{a.Region, account, a.RunOrder}
		if stacks[k] == nil {
			stacks[k] = map[string]int{}
		}
		stacks[k][a.Configuration["StackName"]]++
	}
	for _, r := range slices.Sorted(maps.Keys(cells)) {
		if n := len(cells[r]); n > 1 {
			f := at
			f.Region = r
			c.add(RuleTwoCells, f, "stage %s deploys %d cells/AZs of %s at once (%s)", s.Name, n, regionName(r), strings.Join(slices.Sorted(maps.Keys(cells[r])), ", "))
		}
	}
	keys := make([]key, 0, len(stacks))
	for k := range stacks {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.region < b.region || a.region == b.region && (a.account < b.account || a.account == b.account && a.order < b.order)
	})
	for _, k := range keys {
		for _, name := range slices.Sorted(maps.Keys(stacks[k])) {
			if stacks[k][name] > 1 {
				f := at
				f.Region = k.region
				c.add(RuleRegionTwice, f, "stage %s deploys stack %s in %s %d times in parallel", s.Name, Escape(name), regionName(k.region), stacks[k][name])
			}
		}
	}
}

// noOp reports a production stage whose every deployment redeploys, to
// the same stack, account and region, the template the stage before it
// deployed there.
func (c *checker) noOp(p Pipeline, s Stage, r stageRole, prev Stage, pr stageRole, where Finding) {
	if len(r.targets) == 0 {
		return
	}
	for _, g := range serverGroups(s) {
		if !slices.Contains(serverGroups(prev), g) {
			return // it deploys a revision to a group the earlier stage did not
		}
	}
	for _, t := range r.targets {
		if t.tpl == nil {
			return
		}
		same := slices.ContainsFunc(pr.targets, func(o target) bool {
			return o.tpl != nil && o.account == t.account && o.region == t.region && o.stack == t.stack && c.hash(o.tpl) == c.hash(t.tpl)
		})
		if !same {
			return
		}
	}
	f := where
	f.Stage = s.Name
	c.add(RuleNoOpStage, f, "stage %s redeploys exactly the templates stage %s deployed to the same stacks (%s): it changes nothing", s.Name, prev.Name, strings.Join(regionNames(s.DeployRegions()), ", "))
}

// templateOf is the template a stage deploys to a stack in a region: its
// TemplatePath, and the template's hash when it is in the input.
func (c *checker) templateOf(s Stage, region, stack string) (path, hash string) {
	for _, a := range s.Actions {
		if a.Provider == "CloudFormation" && a.Region == region && a.Configuration["StackName"] == stack && a.Configuration["TemplatePath"] != "" {
			path = a.Configuration["TemplatePath"]
			if t := c.byPath[artifactPath(path)]; t != nil {
				hash = c.hash(t)
			}
			return path, hash
		}
	}
	return "", ""
}

// redeploys are the stacks ("region\x00stack") a stage deploys with the
// very template an earlier stage of its wave deployed to them.
func (c *checker) redeploys(p Pipeline, s Stage) map[string]bool {
	out := map[string]bool{}
	wave := c.waveOf(s.Name)
	if wave == "" {
		return out
	}
	for _, a := range s.Actions {
		if !a.Deploys() || a.Provider != "CloudFormation" {
			continue
		}
		stack := a.Configuration["StackName"]
		path, hash := c.templateOf(s, a.Region, stack)
		if path == "" {
			continue
		}
		for _, e := range p.Stages[:s.Index] {
			if c.waveOf(e.Name) != wave {
				continue
			}
			ep, eh := c.templateOf(e, a.Region, stack)
			if ep != "" && (ep == path || hash != "" && eh == hash) {
				out[a.Region+"\x00"+stack] = true
			}
		}
	}
	return out
}

// serverGroups are the CodeDeploy groups safepipe's server deploy steps of
// the stage deploy a revision to ("region/application/group", from each
// step's SAFEPIPE_REGION, _APPLICATION and _GROUP).
func serverGroups(s Stage) []string {
	var out []string
	for _, a := range s.Actions {
		if g := a.Env["SAFEPIPE_GROUP"]; g != "" {
			out = append(out, a.Env["SAFEPIPE_REGION"]+"/"+a.Env["SAFEPIPE_APPLICATION"]+"/"+g)
		}
	}
	return out
}

// regionRollback reports, for a production stage that rolls back on
// failure, what an earlier production stage of its wave deployed in one
// of its regions that it does not redeploy (stacks, and server groups),
// unless safepipe's gate controller rolls that stage back with it
// (gates rollsBack): "You can roll back a stage to an execution that was
// successful in that stage" — the stage, and no other
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html).
func (c *checker) regionRollback(p Pipeline, roles []stageRole, i int, where Finding) {
	s := p.Stages[i]
	if s.OnFailure == nil || s.OnFailure.Result != "ROLLBACK" {
		return // SP001
	}
	items := func(k int) map[string][]string { // region → what stage k deploys there
		out := map[string][]string{}
		for _, t := range roles[k].targets {
			if t.stack != "" {
				out[t.region] = append(out[t.region], "stack "+t.stack)
			}
		}
		for _, a := range p.Stages[k].Actions {
			if g := a.Env["SAFEPIPE_GROUP"]; g != "" {
				reg := a.Env["SAFEPIPE_REGION"]
				out[reg] = append(out[reg], "group "+g)
			}
		}
		return out
	}
	mine := items(i)
	rolled := map[string]bool{}
	for _, g := range p.Template.gates {
		if st, ok := g.stages[s.Name]; ok {
			for _, e := range st.rollsBack {
				rolled[e] = true
			}
		}
	}
	wave := c.waveOf(s.Name)
	for k := i - 1; k >= 0; k-- {
		if !roles[k].production {
			break
		}
		e := p.Stages[k]
		if wave != "" && c.waveOf(e.Name) != wave {
			break
		}
		if rolled[e.Name] {
			continue
		}
		theirs := items(k)
		for _, reg := range slices.Sorted(maps.Keys(theirs)) {
			if _, shared := mine[reg]; !shared {
				continue
			}
			var left []string
			for _, it := range theirs[reg] {
				if !slices.Contains(mine[reg], it) && !slices.Contains(left, it) {
					left = append(left, it)
				}
			}
			if len(left) == 0 {
				continue
			}
			f := where
			f.Stage, f.Region = s.Name, reg
			c.add(RuleRegionRollback, f, "when stage %s rolls back, CodePipeline rolls back that stage only: %s, which stage %s deployed in %s, keep the change", s.Name, strings.Join(left, ", "), e.Name, regionName(reg))
		}
	}
}

// hash identifies what a template deploys: its resources (type,
// properties, update policy), parameters and outputs, without metadata.
func (c *checker) hash(t *Template) string {
	if h, ok := c.hashes[t]; ok {
		return h
	}
	type res struct {
		Type         string
		Properties   map[string]any
		UpdatePolicy map[string]any
	}
	rs := map[string]res{}
	for id, r := range t.Resources {
		if r.Type == "AWS::CDK::Metadata" {
			continue
		}
		rs[id] = res{r.Type, r.Properties, r.UpdatePolicy}
	}
	b, _ := json.Marshal(struct {
		R       map[string]res
		P, O    map[string]any
		Account string
	}{rs, t.Parameters, t.Outputs, t.Account})
	sum := sha256.Sum256(b)
	h := fmt.Sprintf("%x", sum[:8])
	c.hashes[t] = h
	return h
}
