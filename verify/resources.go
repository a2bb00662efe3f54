package verify

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/safepipe/safepipe/model"
)

// CloudFormation quotas
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html):
// "Resources: Maximum number of resources that you can declare in your
// CloudFormation template: 500 resources" and "Template body size in an
// Amazon S3 object: Maximum size of a template body that you can pass in
// an Amazon S3 object …: 1 MB".
const (
	maxStackResources = 500
	maxTemplateBytes  = 1_000_000
)

// templateLimits reports templates CloudFormation would refuse.
func (c *checker) templateLimits(t *Template) {
	at := Finding{Template: t.Path, Region: t.Region}
	if t.Size > maxTemplateBytes {
		c.add(RuleTemplateLimits, at, "template %s is %d bytes; CloudFormation accepts at most %d", t.Path, t.Size, maxTemplateBytes)
	}
	if n := len(t.Resources); n > maxStackResources {
		c.add(RuleTemplateLimits, at, "template %s declares %d resources; CloudFormation allows %d per stack", t.Path, n, maxStackResources)
	}
}

// resources checks the deployment resources of a production template:
// CodeDeploy, ECS, AppConfig and Lambda aliases.
func (c *checker) resources(t *Template, at Finding) {
	if c.checked[t] {
		return
	}
	c.checked[t] = true
	at.Template = t.Path
	if at.Region == "" {
		at.Region = t.Region
	}
	for _, id := range sortedKeys(t.Resources) {
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
					events[model.Flatten(e)] = true
				}
			}
			if !truthy(ar["Enabled"]) || !events["DEPLOYMENT_FAILURE"] || !events["DEPLOYMENT_STOP_ON_ALARM"] {
				c.add(RuleDeployRollback, f, "deployment group %s does not roll back automatically on failure and on alarm", id)
			}
			switch name := model.Flatten(p["DeploymentConfigName"]); name {
			case "CodeDeployDefault.AllAtOnce", "CodeDeployDefault.HalfAtATime", "CodeDeployDefault.LambdaAllAtOnce", "CodeDeployDefault.ECSAllAtOnce":
				c.add(RuleMinHealthy, f, "deployment group %s uses %s, which replaces more than a third of the fleet at once", id, name)
			}
		case "AWS::CodeDeploy::DeploymentConfig":
			if m := asMap(p["MinimumHealthyHosts"]); m != nil && model.Flatten(m["Type"]) == "FLEET_PERCENT" {
				if v, err := strconv.ParseFloat(model.Flatten(m["Value"]), 64); err == nil && v < 67 {
					c.add(RuleMinHealthy, f, "deployment config %s keeps %v%% of hosts healthy; at least 67%% is needed", id, v)
				}
			}
			if z := asMap(p["ZonalConfig"]); z != nil {
				for _, k := range []string{"MonitorDurationInSeconds", "FirstZoneMonitorDurationInSeconds"} {
					if v, _ := strconv.Atoi(model.Flatten(z[k])); v <= 0 {
						c.add(RuleZonalMonitor, f, "deployment config %s has a zonal configuration with no %s", id, k)
					}
				}
			}
		case "AWS::Lambda::Alias":
			if r.UpdatePolicy["CodeDeployLambdaAliasUpdate"] == nil && p["RoutingConfig"] == nil {
				c.add(RuleAliasShift, f, "Lambda alias %s is repointed at once in production (no CodeDeploy, no weights)", id)
			}
		case "AWS::ECS::Service":
			c.ecsService(id, p, f)
		case "AWS::AppConfig::Deployment":
			c.appConfigDeployment(t, id, p, f)
		}
	}
}

// ecsService checks an ECS service that ECS deploys itself (deployment
// controller ECS, the default). "The deployment circuit breaker can only
// be used for services using the rolling update (ECS) deployment type" and
// "You can only use the DeploymentAlarms method to detect failures when
// the DeploymentController is set to ECS"
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ecs-service-deploymentconfiguration.html,
// aws-properties-ecs-service-deploymentalarms.html); the minimum healthy
// percent "represents a lower limit on the number of your service's tasks
// that must remain in the RUNNING state during a deployment" for rolling
// updates, and defaults to 100. Services deployed by CodeDeploy are
// checked through their deployment group instead.
func (c *checker) ecsService(id string, p map[string]any, f Finding) {
	if ctl := model.Flatten(asMap(p["DeploymentController"])["Type"]); ctl != "" && ctl != "ECS" {
		return
	}
	dc := asMap(p["DeploymentConfiguration"])
	strategy := model.Flatten(dc["Strategy"])
	rolling := strategy == "" || strategy == "ROLLING"
	if rolling {
		cb := asMap(dc["DeploymentCircuitBreaker"])
		if !truthy(cb["Enable"]) || !truthy(cb["Rollback"]) {
			c.add(RuleECSCircuitBreaker, f, "ECS service %s rolls out without a deployment circuit breaker that rolls back", id)
		}
		if v, present := dc["MinimumHealthyPercent"]; present {
			// "a lower limit on the number of your service's tasks that
			// must remain in the RUNNING state during a deployment, as a
			// percentage of the desiredCount (rounded up to the nearest
			// integer)" (DeploymentConfiguration, minimumHealthyPercent):
			// what counts is the tasks kept, so one task at 50% keeps it.
			// DesiredCount: "if a desired count is not specified, a
			// default value of 1 is used" (AWS::ECS::Service).
			desired := 1
			if d, err := strconv.Atoi(model.Flatten(p["DesiredCount"])); err == nil && d > 0 {
				desired = d
			}
			if n, err := strconv.Atoi(model.Flatten(v)); err == nil && n < 67 {
				kept := (desired*n + 99) / 100
				if kept*100 < 67*desired {
					c.add(RuleMinHealthy, f, "ECS service %s keeps %d%% of its tasks healthy during a deployment (%d of %d); at least 67%% is needed", id, n, kept, desired)
				}
			}
		}
	}
	al := asMap(dc["Alarms"])
	names, _ := al["AlarmNames"].([]any)
	if !truthy(al["Enable"]) || !truthy(al["Rollback"]) || len(names) == 0 {
		c.add(RuleECSAlarms, f, "ECS service %s deploys without CloudWatch alarms that roll it back", id)
	}
}

// oneBoxWhole reports what a one-box stage's stack moves all of a region
// with (SP037; OneBoxWhole).
func (c *checker) oneBoxWhole(t *Template, at Finding) {
	for _, w := range OneBoxWhole(t) {
		f := at
		f.Resource, f.Template = w.Resource, t.Path
		c.add(RuleOneBoxWhole, f, "one-box stage %s %s", at.Stage, w.What)
	}
}

// Whole is a resource of a template that moves all of a region when the
// template deploys (OneBoxWhole).
type Whole struct {
	// Resource is the logical ID; What says what it moves, for a message
	// ("rolls ECS service …").
	Resource, What string
}

// OneBoxWhole lists what a template moves all of a region with, in a
// one-box step: an ECS service of more than one task rolled by ECS ("The
// rolling update (ECS) deployment type involves replacing the current
// running version of the container with the latest version",
// deployment-type-ecs.html: every task of the service, in batches), and
// safepipe's alias controller switching all of an alias (Mode "full"). A
// one-task service is the ECS one-box; a service deployed by CodeDeploy or
// an external controller shifts what its deployment group says (SP013,
// SP014). The pipeline construct refuses such a one-box step at synth;
// verify reports it (SP037).
func OneBoxWhole(t *Template) []Whole {
	var out []Whole
	for _, id := range sortedKeys(t.Resources) {
		r := t.Resources[id]
		switch r.Type {
		case "AWS::ECS::Service":
			if ctl := model.Flatten(asMap(r.Properties["DeploymentController"])["Type"]); ctl != "" && ctl != "ECS" {
				continue
			}
			if d, err := strconv.Atoi(model.Flatten(r.Properties["DesiredCount"])); err == nil && d > 1 {
				out = append(out, Whole{id, fmt.Sprintf("rolls ECS service %s (%d tasks) to the new version: the whole service, not a one-box share of the region", id, d)})
			}
		case "Custom::SafepipeAlias":
			if model.Flatten(r.Properties["Mode"]) == "full" {
				out = append(out, Whole{id, fmt.Sprintf("switches all of alias controller %s's invocations to the new version (mode full), not a one-box share", id)})
			}
		}
	}
	ramps, _ := Ramps(t)
	for _, r := range ramps {
		if r.Ramp.Full() {
			out = append(out, Whole{r.Resource, fmt.Sprintf("ramps alias controller %s's invocations to 100%% of the new version within %s (driver %s), not a one-box share", r.Resource, r.Ramp.Duration(), r.Ramp.Driver)})
		}
	}
	return out
}

// RampOf is a ramped alias controller of a template (Ramps).
type RampOf struct {
	// Resource is the alias controller's logical ID.
	Resource string
	// Ramp is its ramp as the driver runs it.
	Ramp *model.Ramp
}

// Ramps lists the template's alias controllers (Custom::SafepipeAlias)
// that ramp (a RampState property), each with the ramp its driver runs
// (model.ReadRamp), and an error for each ramp that cannot be read.
func Ramps(t *Template) ([]RampOf, []error) {
	functions := map[string]map[string]any{}
	for id, r := range t.Resources {
		if r.Type == "AWS::Lambda::Function" {
			functions[id] = r.Properties
		}
	}
	ev := model.NewEvaluator(model.Scope{Parameters: t.Parameters, Resource: func(id string) (string, map[string]any, bool) {
		r, ok := t.Resources[id]
		return r.Type, r.Properties, ok
	}})
	var out []RampOf
	var errs []error
	for _, id := range sortedKeys(t.Resources) {
		r := t.Resources[id]
		if r.Type != "Custom::SafepipeAlias" || r.Properties["RampState"] == nil {
			continue
		}
		ramp, err := model.ReadRamp(r.Properties["RampState"], functions, ev)
		if err != nil {
			errs = append(errs, fmt.Errorf("alias controller %s: %w", id, err))
			continue
		}
		out = append(out, RampOf{id, ramp})
	}
	return out, errs
}

// rampsOutlast reports a production stage whose ramp does not reach the
// new version alone before the stage's bake ends (SP038): the bake counts
// from the deployment, and the ramp driver raises the share on its own
// clock (constructs/deploy, Ramp), so the pipeline would promote the change
// to the next wave with this region on a share of it, and watch its full
// share for no time.
func (c *checker) rampsOutlast(t *Template, p Pipeline, s Stage, at Finding) {
	bake := 0
	for _, w := range c.bakes(p, s) {
		if w.Region == at.Region || w.Region == "" {
			bake = max(bake, w.Minutes)
		}
	}
	ramps, errs := Ramps(t)
	for _, err := range errs {
		f := at
		f.Template = t.Path
		c.add(RuleRampOutlastsBake, f, "stage %s: %v: verify cannot tell when this region serves the new version alone", s.Name, err)
	}
	for _, r := range ramps {
		if !r.Ramp.Full() {
			continue // a split that stays (an A/B test) is not a rollout
		}
		// A hold waits while the alarm is not OK; a metric alarm can sit
		// in INSUFFICIENT_DATA for as long as its metric is silent, and
		// the bake (which does not read the ramp) ends first. "For a
		// composite alarm, this initial time after creation is the only
		// time that the alarm can be in INSUFFICIENT_DATA state"
		// (AWS::CloudWatch::CompositeAlarm; docs/aws-semantics.md Q25).
		if a := c.alarms.lookup(t.Account, t.Region, r.Ramp.Alarm); a == nil || !a.composite {
			what := "is a metric alarm"
			if a == nil {
				what = "is not created by a stack of the input, so verify cannot tell its kind"
			}
			f := at
			f.Resource, f.Template = r.Resource, t.Path
			c.add(RuleRampOutlastsBake, f, "stage %s: alias controller %s ramps on alarm %s, which %s: a metric alarm holds the ramp in INSUFFICIENT_DATA for as long as its metric is silent, past any bake; ramp on a composite alarm (the region's aggregate), which is in INSUFFICIENT_DATA only right after it is created", s.Name, r.Resource, Escape(r.Ramp.Alarm), what)
		}
		if need := r.Ramp.BakeNeeded(); time.Duration(bake)*time.Minute < need {
			f := at
			f.Resource, f.Template = r.Resource, t.Path
			c.add(RuleRampOutlastsBake, f, "stage %s bakes %d min, and alias controller %s ramps to 100%% over %s (driver %s): a bake of at least %s sees the ramp end and its full share held as long as its longest step; a shorter one starts the next stage before this region serves the new version alone, or watches its full share for less than any step", s.Name, bake, r.Resource, r.Ramp.Duration(), r.Ramp.Driver, need)
		}
	}
}

// AppConfig: "AppConfig.AllAtOnce … deploys the configuration to all
// targets immediately"
// (https://docs.aws.amazon.com/appconfig/latest/userguide/appconfig-creating-deployment-strategy-predefined.html);
// a strategy whose first step is 100% (GrowthFactor 100) or that lasts no
// time (DeploymentDurationInMinutes 0) does the same. AppConfig rolls a
// deployment back on the alarms of the environment's Monitors
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-appconfig-environment.html).
func (c *checker) appConfigDeployment(t *Template, id string, p map[string]any, f Finding) {
	switch st, v := c.resolve(t, p["DeploymentStrategyId"], 0); {
	case st == nil && v == "AppConfig.AllAtOnce":
		c.add(RuleAppConfigStrategy, f, "AppConfig deployment %s uses AppConfig.AllAtOnce: every target gets the configuration at once", id)
	case st == nil && strings.HasPrefix(v, "AppConfig."):
	case st == nil:
		c.add(RuleAppConfigStrategy, f, "AppConfig deployment %s uses deployment strategy %q, which is not defined in the assembly: verify cannot tell how fast it deploys", id, v)
	case st.res.Type != "AWS::AppConfig::DeploymentStrategy":
		c.add(RuleAppConfigStrategy, f, "AppConfig deployment %s names %s, which is not a deployment strategy", id, st.id)
	default:
		sp := st.res.Properties
		growth, _ := strconv.ParseFloat(model.Flatten(sp["GrowthFactor"]), 64)
		dur, _ := strconv.ParseFloat(model.Flatten(sp["DeploymentDurationInMinutes"]), 64)
		if growth >= 100 || dur <= 0 {
			c.add(RuleAppConfigStrategy, f, "AppConfig deployment %s uses strategy %s (%s), which deploys to every target at once (growth factor %v%%, duration %v min)",
				id, st.id, st.tpl.Path, growth, dur)
		}
	}
	switch env, v := c.resolve(t, p["EnvironmentId"], 0); {
	case env == nil:
		c.add(RuleAppConfigMonitors, f, "AppConfig deployment %s deploys to environment %q, which is not defined in the assembly: verify cannot see its alarm monitors", id, v)
	case env.res.Type != "AWS::AppConfig::Environment":
		c.add(RuleAppConfigMonitors, f, "AppConfig deployment %s names %s, which is not an environment", id, env.id)
	default:
		mons, _ := env.res.Properties["Monitors"].([]any)
		has := slices.ContainsFunc(mons, func(m any) bool { return model.Flatten(asMap(m)["AlarmArn"]) != "" })
		if !has {
			c.add(RuleAppConfigMonitors, f, "AppConfig deployment %s deploys to environment %s (%s), which has no alarm monitors: nothing rolls the configuration back", id, env.id, env.tpl.Path)
		}
	}
}

// resolved is a resource a value refers to.
type resolved struct {
	tpl *Template
	id  string
	res Resource
}

// maxResolve bounds how many references resolve follows.
const maxResolve = 8

// resolve follows a value to the resource it names: a Ref or Fn::GetAtt
// to a resource of t; a Ref to an SSM parameter-typed template parameter
// or a {{resolve:ssm:…}} reference, through the AWS::SSM::Parameter of
// that name in a stack of the same account and region; an Fn::ImportValue,
// through the export of that name. It returns nil and the flattened value
// when the value names nothing in the assembly.
func (c *checker) resolve(t *Template, v any, depth int) (*resolved, string) {
	flat := model.Flatten(v)
	if depth > maxResolve {
		return nil, flat
	}
	m := asMap(v)
	if ref, ok := m["Ref"].(string); ok {
		if r, ok := t.Resources[ref]; ok {
			return &resolved{t, ref, r}, flat
		}
		if p := asMap(t.Parameters[ref]); p != nil {
			if strings.HasPrefix(model.Flatten(p["Type"]), "AWS::SSM::Parameter::Value") {
				if r, s := c.ssmParameter(t, model.Flatten(p["Default"]), depth); r != nil || s != "" {
					return r, s
				}
			}
			if d, ok := p["Default"]; ok {
				return nil, model.Flatten(d)
			}
		}
		return nil, flat
	}
	if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
		if r, ok := t.Resources[model.Flatten(ga[0])]; ok {
			return &resolved{t, model.Flatten(ga[0]), r}, flat
		}
		return nil, flat
	}
	if imp, ok := m["Fn::ImportValue"]; ok {
		name := model.Flatten(imp)
		for _, o := range c.templates {
			if !sameEnv(o, t) {
				continue
			}
			for _, k := range sortedKeys(o.Outputs) {
				out := asMap(o.Outputs[k])
				if model.Flatten(asMap(out["Export"])["Name"]) == name {
					return c.resolve(o, out["Value"], depth+1)
				}
			}
		}
		return nil, flat
	}
	if s, ok := v.(string); ok && strings.HasPrefix(s, "{{resolve:ssm:") && strings.HasSuffix(s, "}}") {
		name := strings.TrimSuffix(strings.TrimPrefix(s, "{{resolve:ssm:"), "}}")
		if i := strings.LastIndexByte(name, ':'); i > 0 && !strings.HasPrefix(name, "arn:") {
			name = name[:i] // a version
		}
		if r, s := c.ssmParameter(t, name, depth); r != nil || s != "" {
			return r, s
		}
	}
	return nil, flat
}

// ssmParameter resolves the value of the SSM parameter of that name
// created by a stack of t's account and region.
func (c *checker) ssmParameter(t *Template, name string, depth int) (*resolved, string) {
	for _, o := range c.templates {
		if !sameEnv(o, t) {
			continue
		}
		for _, id := range sortedKeys(o.Resources) {
			r := o.Resources[id]
			if r.Type == "AWS::SSM::Parameter" && model.Flatten(r.Properties["Name"]) == name {
				return c.resolve(o, r.Properties["Value"], depth+1)
			}
		}
	}
	return nil, ""
}

// sameEnv reports whether two templates are in the same account and
// region, as far as the manifest says.
func sameEnv(a, b *Template) bool {
	return (a.Region == b.Region || a.Region == "" || b.Region == "") &&
		(a.Account == b.Account || a.Account == "" || b.Account == "")
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
		case "AWS::CodePipeline::Pipeline", "AWS::CodeDeploy::DeploymentGroup", "AWS::CodeDeploy::DeploymentConfig",
			"AWS::Lambda::Alias", "AWS::ECS::Service", "AWS::AppConfig::Deployment":
			return true
		}
	}
	return false
}
