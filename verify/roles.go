package verify

import (
	"strings"

	"github.com/safepipe/safepipe/model"
)

// target is one thing a deploy action changes.
type target struct {
	account, region, stack string
	// tpl is the template deployed, when the action names one in the
	// assembly.
	tpl    *Template
	action string
}

// stageRole is what verify makes of a stage.
type stageRole struct {
	deploys    bool
	targets    []target
	production bool
	// why says how production was recognised, for messages.
	why string
	// preProd names the pre-production role recognised ("" for none).
	preProd string
}

// targets lists what a stage's deploy actions change. A CloudFormation
// action's template is the TemplatePath of the stage's action preparing
// or deploying the same stack in the same region; its account is the
// stack's (from the manifest), else the account of the role the action
// passes to CloudFormation or assumes, else the pipeline's.
func (c *checker) targets(p Pipeline, s Stage) []target {
	var out []target
	for _, a := range s.Actions {
		if !a.Deploys() {
			continue
		}
		t := target{region: a.Region, action: a.Name}
		if a.Provider == "CloudFormation" {
			t.stack = a.Configuration["StackName"]
			for _, b := range s.Actions {
				if b.Provider == "CloudFormation" && b.Region == a.Region && b.Configuration["StackName"] == t.stack && b.Configuration["TemplatePath"] != "" {
					t.tpl = c.byPath[artifactPath(b.Configuration["TemplatePath"])]
					if b.Name == a.Name {
						break
					}
				}
			}
		} else {
			// A CodeDeploy, ECS or AppConfig action whose deployment group,
			// service or application is a resource of the pipeline's own
			// stack deploys through that stack's resources.
			for _, key := range []string{"DeploymentGroupName", "ServiceName", "Application", "ApplicationName"} {
				if id, ok := placeholderRef(a.Configuration[key]); ok && p.Template.Resources[id].Type != "" {
					t.tpl, t.stack = p.Template, p.Template.StackName
					break
				}
			}
		}
		if accessStack(t.tpl) || (t.tpl == nil && declaredAccess(p, s, t.stack)) {
			continue
		}
		switch {
		case t.tpl != nil && t.tpl.Account != "":
			t.account = t.tpl.Account
		case arnAccount(a.Configuration["RoleArn"]) != "":
			t.account = arnAccount(a.Configuration["RoleArn"])
		case arnAccount(a.RoleArn) != "":
			t.account = arnAccount(a.RoleArn)
		default:
			t.account = p.Account
		}
		out = append(out, t)
	}
	return out
}

// MetadataAccess marks safepipe's access stacks (model.MetadataAccess).
const MetadataAccess = model.MetadataAccess

// accessStack reports whether a template is a pipeline access stack
// (model.AccessStack).
func accessStack(t *Template) bool {
	if t == nil {
		return false
	}
	var types []string
	for _, r := range t.Resources {
		types = append(types, r.Type)
	}
	return model.AccessStack(t.Metadata, types)
}

// declaredAccess reports whether the pipeline resource's MetadataAccess
// ({"stage": …, "stackName": …}) declares stack, deployed by stage s, to
// be its access stack: how a pipeline template read alone (without its
// stacks' templates) says which stage is its plumbing. The stack name must
// be one safepipe gives access stacks ("safepipe-access-…"). In an
// assembly the stack's own template decides (accessStack).
func declaredAccess(p Pipeline, s Stage, stack string) bool {
	m := asMap(p.Template.Resources[p.LogicalID].Metadata[MetadataAccess])
	return m != nil && str(m["stage"]) == s.Name && str(m["stackName"]) == stack && strings.HasPrefix(stack, "safepipe-access-")
}

// placeholderRef returns X for the placeholder "${X}" Flatten makes of a
// Ref.
func placeholderRef(s string) (string, bool) {
	if strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") && !strings.ContainsAny(s[2:len(s)-1], ".${}") {
		return s[2 : len(s)-1], true
	}
	return "", false
}

// artifactPath strips the artifact name from "Artifact::path".
func artifactPath(p string) string {
	if k := strings.Index(p, "::"); k >= 0 {
		return p[k+2:]
	}
	return p
}

// roles works out which stages deploy and which of them are production,
// with model.Roles (the one classification verify and the simulator
// share) over the stages' targets and the configuration's patterns.
func (c *checker) roles(p Pipeline) []stageRole {
	infos := make([]model.StageInfo, len(p.Stages))
	targets := make([][]target, len(p.Stages))
	for i, s := range p.Stages {
		targets[i] = c.targets(p, s)
		infos[i].Name = s.Name
		for _, t := range targets[i] {
			mt := model.Target{Account: t.account, Region: t.region, Stack: t.stack}
			if t.tpl != nil {
				mt.Tags, mt.Stack = t.tpl.Tags, t.tpl.StackName
			}
			infos[i].Targets = append(infos[i].Targets, mt)
		}
	}
	rr := model.RoleRules{
		Production: c.cc.production, NonProduction: c.cc.nonProduction,
		Alpha: c.cc.alpha, Beta: c.cc.beta, Gamma: c.cc.gamma, GammaOneBox: c.cc.gammaOneBox,
		TagKey: c.cc.tagKey, TagValue: c.cc.tagValue, ProductionAccounts: c.cc.prodAccounts,
	}
	out := make([]stageRole, len(p.Stages))
	for i, r := range model.Roles(p.Account, infos, rr) {
		out[i] = stageRole{deploys: r.Deploys, targets: targets[i], production: r.Production, why: r.Why, preProd: r.PreProd}
	}
	return out
}

func regionName(r string) string {
	if r == "" {
		return "the pipeline's region"
	}
	return r
}
