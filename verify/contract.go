package verify

import (
	"cmp"
	"fmt"
	"maps"
	"strings"

	"github.com/safepipe/safepipe/model"
)

// external finds the declaration of an alarm outside the assembly.
func (c *checker) externalAlarm(account, region, name string) (ExternalAlarm, bool) {
	for _, e := range c.external {
		if e.matches(account, region, name) {
			return e, true
		}
	}
	return ExternalAlarm{}, false
}

// externalAggregate reports whether an external alarm of that account and
// region is declared to play the aggregate role.
func (c *checker) externalAggregate(account, region string) bool {
	for _, e := range c.external {
		if e.Aggregate && (e.Account == "" || account == "" || e.Account == account) && (e.Region == "" || region == "" || e.Region == region) {
			return true
		}
	}
	return false
}

// aggregatesFor returns the alarms that play the aggregate role in an
// account and region, from the production templates deployed there.
func (c *checker) aggregatesFor(account, region string) []*alarm {
	k := envKey(account, region)
	if a, ok := c.aggregateCache[k]; ok {
		return a
	}
	high := c.alarms.highSeverity(c.prodTemplates[k])
	a := c.alarms.aggregates(account, region, c.templates, high)
	c.aggregateCache[k] = a
	return a
}

func (c *checker) whyNoAggregate(account, region string) string {
	k := envKey(account, region)
	if len(c.prodTemplates[k]) == 0 {
		return "production deploys no template of the assembly there"
	}
	high := c.alarms.highSeverity(c.prodTemplates[k])
	if len(high) == 0 {
		return "the production stacks there create no alarm at all"
	}
	names := make([]string, 0, 4)
	for i, h := range high {
		if i == 3 {
			names = append(names, fmt.Sprintf("and %d more", len(high)-3))
			break
		}
		names = append(names, Escape(h.String()))
	}
	msg := fmt.Sprintf("no composite alarm of a stack there ORs the region's %d high-severity alarm(s) (%s)", len(high), strings.Join(names, ", "))
	if _, left := c.uncovered(account, region, nil); len(left) > 0 && len(left) < len(high) {
		msg += fmt.Sprintf(", nor do its composites together: %d are in none (%s)", len(left), Escape(left[0].String()))
	}
	return msg
}

// The aggregate role played together. A service deployed per AZ or cell
// keeps one aggregate per cell stack: alarm names are unique per account
// and region (alarms.Names), and a composite alarm can only OR alarms that
// exist when it is created ("When you create a composite alarm, you
// specify a rule expression for the alarm that takes into account the
// alarm states of other alarms that you have created."
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html;
// CloudFormation reports "Could not save the composite alarm as alarms ...
// in the alarm rule do not exist", awsdocs/aws-cloudformation-user-guide
// issue 911), so no single composite can OR the alarms of cell stacks that
// later stages create. A gate that watches every cell's aggregate watches
// the region: pure-OR composites of the region whose children, together,
// include every high-severity alarm play the role together.

// uncovered returns the region's high-severity alarms (from its
// production templates) and those of them that no pure-OR composite of
// watched ORs (every composite of the region's stacks when watched is nil),
// in a stable order.
func (c *checker) uncovered(account, region string, watched []*alarm) (high, left []*alarm) {
	k := envKey(account, region)
	if len(c.prodTemplates[k]) == 0 {
		return nil, nil
	}
	high = c.alarms.highSeverity(c.prodTemplates[k])
	if watched == nil {
		watched = c.alarms.composites(account, region, c.templates)
	}
	in := map[string]bool{}
	for _, a := range watched {
		if a.composite && a.pureOr {
			maps.Copy(in, a.orClosure())
		}
	}
	for _, h := range high {
		if !in[h.key()] {
			left = append(left, h)
		}
	}
	return high, left
}

// coveredTogether reports whether the pure-OR composites of watched (all
// of the region's when nil) together OR every high-severity alarm of a
// region where production deploys.
func (c *checker) coveredTogether(account, region string, watched []*alarm) bool {
	high, left := c.uncovered(account, region, watched)
	return len(high) > 0 && len(left) == 0
}

// aggregateWatches returns the watches that play the aggregate role in
// their region: alone (playsAggregate, or extra), or together with the
// other watches of that account and region (uncovered). A group that plays
// it together watches for as long as its shortest member.
func (c *checker) aggregateWatches(p Pipeline, ws []Watch, extra func(Watch) bool) []Watch {
	var out []Watch
	type env struct{ account, region string }
	groups := map[env][]Watch{}
	var order []env
	for _, w := range ws {
		if c.playsAggregate(p, w) || (extra != nil && extra(w)) {
			out = append(out, w)
			continue
		}
		account := cmp.Or(w.Account, p.Account)
		e := env{account, w.Region}
		if _, seen := groups[e]; !seen {
			order = append(order, e)
		}
		groups[e] = append(groups[e], w)
	}
	if !c.asm {
		return out
	}
	for _, e := range order {
		g := groups[e]
		var alarms []*alarm
		for _, w := range g {
			if a := c.alarms.lookup(e.account, e.region, w.Alarm); a != nil && a.composite && a.pureOr {
				alarms = append(alarms, a)
			}
		}
		if len(alarms) < 2 || !c.coveredTogether(e.account, e.region, alarms) {
			continue
		}
		shortest := g[0].Minutes
		for _, w := range g {
			shortest = min(shortest, w.Minutes)
		}
		for _, w := range g {
			w.Minutes = shortest
			out = append(out, w)
		}
	}
	return out
}

// playsAggregate reports whether a watched alarm plays the aggregate role
// in its region: the config names it, it is declared external with that
// role, or it is a composite of the assembly that ORs the region's
// high-severity alarms. A lone template (no stacks to look into) accepts
// any alarm unless the config names the aggregate.
func (c *checker) playsAggregate(p Pipeline, w Watch) bool {
	account := w.Account
	if account == "" {
		account = p.Account
	}
	if c.cc.aggregate != nil && c.cc.aggregate.MatchString(w.Alarm) {
		return true
	}
	if e, ok := c.externalAlarm(account, w.Region, w.Alarm); ok && e.Aggregate {
		return true
	}
	if !c.asm {
		return c.cc.aggregate == nil
	}
	a := c.alarms.lookup(account, w.Region, w.Alarm)
	if a == nil {
		return false
	}
	if len(c.prodTemplates[envKey(account, w.Region)]) == 0 {
		// Nothing known of production there (a pre-production stage, or
		// stacks outside the assembly): an alarm that exists will do.
		return true
	}
	for _, g := range c.aggregatesFor(account, w.Region) {
		if g == a {
			return true
		}
	}
	return false
}

// blockers are the stage's blockers: Stage.Blockers, with safepipe's gate
// controller rules read as the alarms they stand for.
func (c *checker) blockers(p Pipeline, s Stage) []Watch {
	return append(withoutGateAlarms(p, s.Blockers()), controllerBlockers(p, s)...)
}

func withoutGateAlarms(p Pipeline, ws []Watch) []Watch {
	out := ws[:0:0]
	for _, w := range ws {
		if !isGateAlarm(p, w.Alarm) {
			out = append(out, w)
		}
	}
	return out
}

// bakes are the stage's bakes: Stage.Bakes, with safepipe's gate
// controller rules read as the alarms they stand for.
func (c *checker) bakes(p Pipeline, s Stage) []Watch {
	return append(append(withoutGateAlarms(p, s.Bakes()), controllerBakes(p, s)...), controllerBakeActions(p, s)...)
}

// gateContract checks that every alarm a gate of the pipeline watches
// exists in a stack of its account and region, or is declared external:
// "You must have already created an alarm in Amazon CloudWatch as a
// separate resource"
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html).
func (c *checker) gateContract(p Pipeline) {
	for _, s := range p.Stages {
		var watches []Watch
		for _, cd := range []*Condition{s.BeforeEntry, s.OnSuccess, s.OnFailure} {
			if cd == nil {
				continue
			}
			for _, r := range cd.Rules {
				if r.Provider == "CloudWatchAlarm" {
					watches = append(watches, Watch{Region: r.Region, Account: arnAccount(r.RoleArn), Alarm: r.Configuration["AlarmName"], Via: "rule " + r.Name})
				}
			}
		}
		watches = append(watches, c.blockers(p, s)...)
		watches = append(watches, c.bakes(p, s)...)
		for _, w := range watches {
			account := w.Account
			if account == "" {
				account = p.Account
			}
			if w.Alarm == "" || strings.Contains(w.Alarm, "${") {
				continue // a name known only at deployment
			}
			if _, ok := c.externalAlarm(account, w.Region, w.Alarm); ok {
				continue
			}
			if c.alarms.lookup(account, w.Region, w.Alarm) != nil {
				continue
			}
			f := Finding{Pipeline: p.LogicalID, Template: p.Template.Path, Stage: s.Name, Region: w.Region}
			c.add(RuleAlarmContract, f, "stage %s watches alarm %q in %s (%s), but no stack of the assembly creates it there and it is not declared external",
				s.Name, w.Alarm, describeEnv(account, w.Region), w.Via)
		}
	}
}

// deploymentContract checks that every alarm a deployment of the template
// watches (CodeDeploy deployment groups, ECS services, AppConfig
// environments) exists in the assembly or is declared external.
func (c *checker) deploymentContract(t *Template) {
	if c.contracted[t] {
		return
	}
	c.contracted[t] = true
	check := func(id, ref string) {
		if ref == "" {
			return
		}
		if c.alarms.resolve(t, ref) != nil {
			return
		}
		account, region, name := t.Account, t.Region, ref
		if a, r, n, ok := alarmARN(ref); ok {
			account, region, name = a, r, n
			if account == "" {
				account = t.Account
			}
			if region == "" {
				region = t.Region
			}
		}
		if _, ok := c.externalAlarm(account, region, name); ok {
			return
		}
		f := Finding{Template: t.Path, Region: t.Region, Resource: id}
		c.add(RuleAlarmContract, f, "%s %s watches alarm %q, which no stack of the assembly creates in %s and is not declared external",
			t.Resources[id].Type, id, ref, describeEnv(account, region))
	}
	refs := deploymentAlarms(t)
	for _, id := range sortedKeys(refs) {
		for _, ref := range refs[id] {
			check(id, ref)
		}
	}
	for _, id := range sortedKeys(t.Resources) {
		r := t.Resources[id]
		if r.Type != "AWS::AppConfig::Environment" {
			continue
		}
		mons, _ := r.Properties["Monitors"].([]any)
		for _, m := range mons {
			check(id, model.Flatten(asMap(m)["AlarmArn"]))
		}
	}
}
