package verify

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/safepipe/safepipe/waves"
)

// Rule IDs.
const (
	RuleSuppressionReason = "SP000"
	RuleRollback          = "SP001"
	RuleBakeMissing       = "SP002"
	RuleBakeShort         = "SP003"
	RuleBakeCoverage      = "SP004"
	RuleWindow            = "SP005"
	RuleBlocker           = "SP006"
	RuleFirstStage        = "SP007"
	RuleTwoCells          = "SP008"
	RuleRegionTwice       = "SP009"
	RulePreProd           = "SP010"
	RuleLimits            = "SP011"
	RuleDeployAlarms      = "SP012"
	RuleDeployRollback    = "SP013"
	RuleMinHealthy        = "SP014"
	RuleZonalMonitor      = "SP015"
	RuleAliasShift        = "SP016"
	RuleAggregate         = "SP017"
)

// Rules lists every rule.
var Rules = []RuleInfo{
	{RuleSuppressionReason, "suppression-reason", Error, "A suppression without a reason hides a risk nobody owns.", "Add a reason to the suppression."},
	{RuleRollback, "prod-rollback", Error, "A failed production stage must undo itself without a human.", "Add an OnFailure condition with result ROLLBACK (SafetyGates does)."},
	{RuleBakeMissing, "prod-bake", Error, "A change must bake in a stage before it reaches the next one.", "Add an OnSuccess CloudWatchAlarm rule with a WaitTime, or a bake action."},
	{RuleBakeShort, "bake-floor", Error, "Bakes shorter than the floor for their position miss slow failures.", "Raise the bake to the floor, or expedite deliberately with a reason."},
	{RuleBakeCoverage, "bake-every-region", Error, "A bake that does not watch a region lets that region's failure through.", "Watch every region the stage deploys to (SafetyGates fans in beyond five regions)."},
	{RuleWindow, "deployment-window", Error, "Production changes start only when people are there to respond.", "Add a DeploymentWindow rule to the stage's BeforeEntry condition."},
	{RuleBlocker, "alarm-blocker", Error, "Deploying into a region already in alarm compounds an incident.", "Block entry on every region's aggregate alarm (a CloudWatchAlarm rule or a blockers action)."},
	{RuleFirstStage, "first-stage-one-region", Error, "The first production stage must limit the blast radius to one region.", "Put one region in the first production wave."},
	{RuleTwoCells, "one-cell-per-region", Error, "Two AZs or cells of one region at once can take the region down.", "Deploy one AZ or cell of a region per stage."},
	{RuleRegionTwice, "region-once-per-stage", Error, "A region deployed twice in parallel races with itself.", "Deploy each stack once per stage, or order the actions."},
	{RulePreProd, "pre-production", Error, "Production must be reached through alpha, beta, gamma and a gamma one-box.", "Add the missing pre-production stages before the first production stage."},
	{RuleLimits, "codepipeline-limits", Error, "CodePipeline rejects pipelines over 50 stages or stages over 50 actions.", "Split stages or pipelines (the planner does this from the policy)."},
	{RuleDeployAlarms, "codedeploy-alarms", Error, "A CodeDeploy deployment without alarms cannot stop itself.", "Attach the one-box and aggregate alarms to the deployment group."},
	{RuleDeployRollback, "codedeploy-auto-rollback", Error, "A stopped or failed deployment must roll back by itself.", "Enable auto-rollback on DEPLOYMENT_FAILURE and DEPLOYMENT_STOP_ON_ALARM."},
	{RuleMinHealthy, "min-healthy-hosts", Error, "Replacing more than a third of a fleet at once risks capacity.", "Keep minimum healthy hosts at 67% of the fleet or more."},
	{RuleZonalMonitor, "zonal-monitor", Error, "A zonal deployment without monitor time moves to the next zone blind.", "Set MonitorDurationInSeconds and FirstZoneMonitorDurationInSeconds."},
	{RuleAliasShift, "lambda-alias-shift", Warning, "Repointing a production alias at once sends all traffic to untested code.", "Shift the alias with CodeDeploy or alias weights."},
	{RuleAggregate, "aggregate-alarm", Error, "Gates and rollback need the region's aggregate rollback alarm.", "Create the aggregate composite alarm in every production region (alarms.NewRollbackAlarms)."},
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
	cc       *compiled
	byPath   map[string]*Template // assembly-relative path → template
	findings []Finding
	order    map[string]int // "pipeline/stage" → position, for sorting
	// pipelineTemplate maps a pipeline's logical ID to its template.
	pipelineTemplate map[string]string
}

func (c *checker) add(rule string, f Finding, format string, args ...any) {
	info := ruleInfo(rule)
	f.Rule, f.Name, f.Severity, f.Fix = info.ID, info.Name, info.Severity, info.Fix
	f.Message = fmt.Sprintf(format, args...)
	c.findings = append(c.findings, f)
}

// stageInfo is a production stage's position.
type stageInfo struct {
	oneBox, lastOfWave, firstWave, bakeRequired bool
	floor                                       int
	position                                    string
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
	for _, s := range p.Stages {
		if n := len(s.Actions); n > waves.MaxActionsPerStage {
			f := where
			f.Stage = s.Name
			c.add(RuleLimits, f, "stage %s has %d actions; CodePipeline allows %d", s.Name, n, waves.MaxActionsPerStage)
		}
	}
	first := slices.IndexFunc(p.Stages, func(s Stage) bool { return c.cc.production.MatchString(s.Name) || c.taggedProduction(s) })
	if first < 0 {
		return // no production stage: nothing to gate
	}
	c.preProd(p, first, where)
	prod := p.Stages[first:]
	if rs := prod[0].DeployRegions(); len(rs) > 1 {
		f := where
		f.Stage = prod[0].Name
		c.add(RuleFirstStage, f, "the first production stage %s deploys to %d regions (%s)", prod[0].Name, len(rs), strings.Join(rs, ", "))
	}
	aggregateSeen := map[string]bool{}    // region → a production template there has the aggregate
	aggregateStage := map[string]string{} // region → first stage deploying there
	var regionOrder []string
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
	for i, s := range prod {
		// Every stage after the first production stage that deploys is
		// production, whatever its name.
		if !c.cc.production.MatchString(s.Name) && len(s.DeployRegions()) == 0 {
			continue
		}
		info := c.position(prod, i, firstWave)
		bakeRegions := s.DeployRegions()
		if info.bakeRequired {
			bakeRegions = partRegions[c.baseOf(s.Name)]
		}
		c.stage(p, s, info, bakeRegions, where)
		for _, a := range s.Actions {
			path := a.Configuration["TemplatePath"]
			if a.Provider != "CloudFormation" || path == "" {
				continue
			}
			if _, ok := aggregateStage[a.Region]; !ok {
				aggregateStage[a.Region] = s.Name
				regionOrder = append(regionOrder, a.Region)
			}
			if k := strings.Index(path, "::"); k >= 0 {
				path = path[k+2:]
			}
			t, ok := c.byPath[path]
			if !ok {
				continue
			}
			if c.hasAggregate(t) {
				aggregateSeen[a.Region] = true
			}
			c.resources(t, Finding{Stage: s.Name, Region: a.Region, Pipeline: p.LogicalID}, true)
		}
	}
	if c.byPath != nil {
		for _, r := range regionOrder {
			if !aggregateSeen[r] {
				f := where
				f.Stage, f.Region = aggregateStage[r], r
				c.add(RuleAggregate, f, "no stack production deploys to %s has a composite alarm matching %s", r, c.cc.aggregate)
			}
		}
	}
}

// taggedProduction reports whether the stage deploys a stack carrying the
// configured production tag.
func (c *checker) taggedProduction(s Stage) bool {
	if c.cc.tagKey == "" || c.byPath == nil {
		return false
	}
	for _, a := range s.Actions {
		path := a.Configuration["TemplatePath"]
		if k := strings.Index(path, "::"); k >= 0 {
			path = path[k+2:]
		}
		if t, ok := c.byPath[path]; ok && t.Tags != nil {
			if v, ok := t.Tags[c.cc.tagKey]; ok && v == c.cc.tagValue {
				return true
			}
		}
	}
	return false
}

func (c *checker) preProd(p Pipeline, first int, where Finding) {
	before := p.Stages[:first]
	has := func(match func(string) bool) bool {
		return slices.ContainsFunc(before, func(s Stage) bool { return match(s.Name) })
	}
	for _, need := range []struct {
		name  string
		match func(string) bool
	}{
		{"alpha", c.cc.alpha.MatchString},
		{"beta", c.cc.beta.MatchString},
		{"gamma", func(n string) bool { return c.cc.gamma.MatchString(n) && !c.cc.gammaOneBox.MatchString(n) }},
		{"gamma one-box", c.cc.gammaOneBox.MatchString},
	} {
		if !has(need.match) {
			c.add(RulePreProd, where, "production (%s) is reached without a %s stage before it", p.Stages[first].Name, need.name)
		}
	}
}

func (c *checker) baseOf(name string) string {
	if m := c.cc.part.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return name
}

func (c *checker) waveOf(name string) string {
	if m := c.cc.part.FindStringSubmatch(name); m != nil {
		name = m[1]
	}
	if m := c.cc.wave.FindStringSubmatch(name); len(m) > 1 {
		return m[1]
	}
	return ""
}

// position works out a production stage's bake floor from the names of
// the stages after it.
func (c *checker) position(prod []Stage, i int, firstWave string) stageInfo {
	name := prod[i].Name
	base := name
	if m := c.cc.part.FindStringSubmatch(name); m != nil {
		base = m[1]
	}
	later := prod[i+1:]
	info := stageInfo{oneBox: c.cc.oneBox.MatchString(base), bakeRequired: true, lastOfWave: true}
	for _, s := range later {
		b := s.Name
		if m := c.cc.part.FindStringSubmatch(b); m != nil {
			b = m[1]
		}
		if b == base {
			info.bakeRequired = false // an earlier part of a split stage
		}
	}
	wave := c.waveOf(name)
	if wave != "" {
		info.lastOfWave = !slices.ContainsFunc(later, func(s Stage) bool { return c.waveOf(s.Name) == wave })
		info.firstWave = wave == firstWave
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
	switch w, ok := s.WindowRule(); {
	case !ok:
		c.add(RuleWindow, at, "stage %s has no DeploymentWindow rule", s.Name)
	case s.BeforeEntry.Result != "FAIL":
		c.add(RuleWindow, at, "stage %s's entry condition has result %s: outside the window the stage is skipped, not held", s.Name, s.BeforeEntry.Result)
	case alwaysOpen(w.Configuration["Cron"]):
		c.add(RuleWindow, at, "stage %s's deployment window %q is always open", s.Name, w.Configuration["Cron"])
	}
	regions := s.DeployRegions()
	blocked := map[string]bool{}
	for _, w := range s.Blockers() {
		if c.cc.aggregate.MatchString(w.Alarm) {
			blocked[w.Region] = true
		}
	}
	for _, r := range regions {
		if !blocked[r] {
			f := at
			f.Region = r
			c.add(RuleBlocker, f, "stage %s enters %s without checking an alarm there", s.Name, r)
		}
	}
	var bakes []Watch
	for _, w := range s.Bakes() {
		if c.cc.bakeAlarm.MatchString(w.Alarm) {
			bakes = append(bakes, w)
		}
	}
	if info.bakeRequired && len(bakes) == 0 {
		c.add(RuleBakeMissing, at, "stage %s has no bake (%s needs %d min)", s.Name, info.position, info.floor)
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
				c.add(RuleBakeCoverage, f, "stage %s deploys to %s but its bake does not watch that region's bake alarm", s.Name, r)
			case ok && info.bakeRequired && m < info.floor:
				c.add(RuleBakeShort, f, "stage %s bakes %s for %d min; %s needs %d min", s.Name, r, m, info.position, info.floor)
			}
		}
	}
	c.cells(s, at)
}

// cells finds two AZs/cells of one region, or one stack twice, deployed by
// one stage at the same time.
func (c *checker) cells(s Stage, at Finding) {
	type key struct {
		region string
		order  int
	}
	cells := map[string]map[string]bool{}
	stacks := map[key]map[string]int{}
	for _, a := range s.Actions {
		if a.Provider != "CloudFormation" {
			continue
		}
		switch a.Configuration["ActionMode"] {
		case "CHANGE_SET_EXECUTE", "CREATE_UPDATE", "REPLACE_ON_FAILURE":
		default:
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
		k := key{a.Region, a.RunOrder}
		if stacks[k] == nil {
			stacks[k] = map[string]int{}
		}
		stacks[k][a.Configuration["StackName"]]++
	}
	for _, r := range slices.Sorted(maps.Keys(cells)) {
		if n := len(cells[r]); n > 1 {
			f := at
			f.Region = r
			c.add(RuleTwoCells, f, "stage %s deploys %d cells/AZs of %s at once (%s)", s.Name, n, r, strings.Join(slices.Sorted(maps.Keys(cells[r])), ", "))
		}
	}
	keys := make([]key, 0, len(stacks))
	for k := range stacks {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].region < keys[j].region || keys[i].region == keys[j].region && keys[i].order < keys[j].order
	})
	for _, k := range keys {
		for _, name := range slices.Sorted(maps.Keys(stacks[k])) {
			if stacks[k][name] > 1 {
				f := at
				f.Region = k.region
				c.add(RuleRegionTwice, f, "stage %s deploys stack %s in %s %d times in parallel", s.Name, name, k.region, stacks[k][name])
			}
		}
	}
}

func (c *checker) hasAggregate(t *Template) bool {
	for _, r := range t.Resources {
		if r.Type == "AWS::CloudWatch::CompositeAlarm" && c.cc.aggregate.MatchString(Flatten(r.Properties["AlarmName"])) {
			return true
		}
	}
	return false
}

// resources checks CodeDeploy and Lambda alias resources of a template.
func (c *checker) resources(t *Template, at Finding, production bool) {
	at.Template = t.Path
	for _, id := range slices.Sorted(maps.Keys(t.Resources)) {
		r := t.Resources[id]
		f := at
		f.Resource = id
		p := r.Properties
		switch r.Type {
		case "AWS::CodeDeploy::DeploymentGroup":
			ac := asMap(p["AlarmConfiguration"])
			alarms, _ := ac["Alarms"].([]any)
			if !truthy(ac["Enabled"]) || len(alarms) == 0 {
				c.add(RuleDeployAlarms, f, "deployment group %s has no alarms", id)
			}
			ar := asMap(p["AutoRollbackConfiguration"])
			events := map[string]bool{}
			if ev, ok := ar["Events"].([]any); ok {
				for _, e := range ev {
					events[Flatten(e)] = true
				}
			}
			if !truthy(ar["Enabled"]) || !events["DEPLOYMENT_FAILURE"] || !events["DEPLOYMENT_STOP_ON_ALARM"] {
				c.add(RuleDeployRollback, f, "deployment group %s does not roll back automatically on failure and on alarm", id)
			}
			switch name := Flatten(p["DeploymentConfigName"]); name {
			case "CodeDeployDefault.AllAtOnce", "CodeDeployDefault.HalfAtATime":
				c.add(RuleMinHealthy, f, "deployment group %s uses %s, which replaces more than a third of the fleet at once", id, name)
			}
		case "AWS::CodeDeploy::DeploymentConfig":
			if m := asMap(p["MinimumHealthyHosts"]); m != nil && Flatten(m["Type"]) == "FLEET_PERCENT" {
				if v, err := strconv.ParseFloat(Flatten(m["Value"]), 64); err == nil && v < 67 {
					c.add(RuleMinHealthy, f, "deployment config %s keeps %v%% of hosts healthy; at least 67%% is needed", id, v)
				}
			}
			if z := asMap(p["ZonalConfig"]); z != nil {
				for _, k := range []string{"MonitorDurationInSeconds", "FirstZoneMonitorDurationInSeconds"} {
					if v, _ := strconv.Atoi(Flatten(z[k])); v <= 0 {
						c.add(RuleZonalMonitor, f, "deployment config %s has a zonal configuration with no %s", id, k)
					}
				}
			}
		case "AWS::Lambda::Alias":
			if !production {
				continue
			}
			if r.UpdatePolicy["CodeDeployLambdaAliasUpdate"] == nil && p["RoutingConfig"] == nil {
				c.add(RuleAliasShift, f, "Lambda alias %s is repointed at once in production (no CodeDeploy, no weights)", id)
			}
		}
	}
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}

// relevant reports whether a template has anything verify checks.
func relevant(t *Template) bool {
	for _, r := range t.Resources {
		switch r.Type {
		case "AWS::CodePipeline::Pipeline", "AWS::CodeDeploy::DeploymentGroup", "AWS::CodeDeploy::DeploymentConfig", "AWS::Lambda::Alias":
			return true
		}
	}
	return false
}

// alwaysOpen reports whether a DeploymentWindow cron allows every hour of
// every day (no real window).
func alwaysOpen(cron string) bool {
	f := strings.Fields(cron)
	if len(f) < 6 {
		return false
	}
	any := func(v string) bool { return v == "*" || v == "?" || v == "0-23" }
	days := func(v string) bool { return v == "*" || v == "?" || v == "1-7" || v == "SUN-SAT" }
	return any(f[2]) && days(f[3]) && f[4] == "*" && days(f[5])
}
