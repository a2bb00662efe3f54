package verify

import (
	"regexp"
	"slices"
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
	// opaque: the action runs code (a build, commands, a function) that
	// deploys where verify cannot read what (opaqueAccounts).
	opaque bool
	// provider is the action's provider.
	provider string
	// templatePath is a CloudFormation action's TemplatePath (of the
	// action preparing or deploying the stack), "" for others.
	templatePath string
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
		t := target{region: a.Region, action: a.Name, provider: a.Provider}
		if a.Provider == "CloudFormation" {
			t.stack = a.Configuration["StackName"]
			for _, b := range s.Actions {
				if b.Provider == "CloudFormation" && b.Region == a.Region && b.Configuration["StackName"] == t.stack && b.Configuration["TemplatePath"] != "" {
					t.templatePath = b.Configuration["TemplatePath"]
					t.tpl = c.byPath[artifactPath(t.templatePath)]
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
	if len(out) == 0 {
		out = c.opaqueTargets(p, s)
	}
	return out
}

// opaqueTargets are what a stage that deploys nothing verify reads changes
// through code: each build, command or function that acts in another
// account through a role (the action's own, a role ARN its configuration
// or environment names, or one its CodeBuild project's role may assume),
// and, in a stage whose name says production, each of them. Fan-in gates
// (SAFEPIPE_WATCH) read alarms and change nothing.
func (c *checker) opaqueTargets(p Pipeline, s Stage) []target {
	rr := c.roleRules()
	var out []target
	for _, a := range s.Actions {
		if !model.RunsCode(a.Provider) {
			continue
		}
		if _, _, gate := gateWatches(a.Env, ""); gate {
			continue
		}
		accounts := c.actingAccounts(p, s, a)
		if !rr.OpaqueDeploy(s.Name, len(accounts) > 0) {
			continue
		}
		if len(accounts) == 0 {
			accounts = []string{p.Account}
		}
		for _, acct := range accounts {
			out = append(out, target{account: acct, region: a.Region, action: a.Name, opaque: true, provider: a.Provider})
		}
	}
	return out
}

// cdkPublishing matches the CDK bootstrap roles that look things up or
// publish assets (cdk-<qualifier>-lookup-role-…, -file-publishing-role-…,
// -image-publishing-role-…).
var cdkPublishing = regexp.MustCompile(`:role/cdk-[^/]*-(lookup|file-publishing|image-publishing)-role-`)

// actingAccounts are the accounts, other than the pipeline's, an action
// acts in through a role: its RoleArn, role ARNs its configuration or
// environment names, and the roles its CodeBuild project's service role
// may assume (sts:AssumeRole on them, "*" for a wildcard account).
func (c *checker) actingAccounts(p Pipeline, s Stage, a Action) []string {
	var out []string
	add := func(text string) {
		for _, acct := range model.RoleAccounts(text) {
			if acct != p.Account && !slices.Contains(out, acct) {
				out = append(out, acct)
			}
		}
	}
	add(a.RoleArn)
	for _, k := range sortedKeys(a.Configuration) {
		add(a.Configuration[k])
	}
	for _, k := range sortedKeys(a.Env) {
		add(a.Env[k])
	}
	if a.Provider == "CodeBuild" && !buildOnly(s.Name) && !buildOnly(a.Name) {
		for _, st := range c.projectRoleStatements(p.Template, a.Raw["ProjectName"]) {
			if !statementAllows(st, "sts:AssumeRole") {
				continue
			}
			// CDK's synth project may assume any role tagged as a
			// bootstrap lookup role: it reads, deploys nothing.
			switch model.Flatten(asMap(asMap(st["Condition"])["StringEquals"])["iam:ResourceTag/aws-cdk:bootstrap-role"]) {
			case "lookup", "file-publishing", "image-publishing":
				continue
			}
			for _, r := range asList(st["Resource"]) {
				text := model.Flatten(r)
				if cdkPublishing.MatchString(text) {
					// CDK's bootstrap roles for context lookups and for
					// publishing assets read or upload; they deploy
					// nothing.
					continue
				}
				switch {
				case text == "*":
					text = "arn:aws:iam::*:role/"
				case len(model.RoleAccounts(text)) == 0:
					// A role the template does not spell (a parameter, a
					// custom resource's output): an account it does not
					// name.
					if !slices.Contains(out, "?") {
						out = append(out, "?")
					}
					continue
				}
				add(text)
			}
		}
	}
	return out
}

// projectRoleStatements are the Allow statements of the identity policies
// of a CodeBuild project's service role, when both are resources of t.
func (c *checker) projectRoleStatements(t *Template, project any) []map[string]any {
	ref, ok := asMap(project)["Ref"].(string)
	if !ok || t == nil {
		return nil
	}
	proj, ok := t.Resources[ref]
	if !ok || proj.Type != "AWS::CodeBuild::Project" {
		return nil
	}
	role := ""
	switch sr := proj.Properties["ServiceRole"].(type) {
	case map[string]any:
		if ga, ok := sr["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			role, _ = ga[0].(string)
		} else if r, ok := sr["Ref"].(string); ok {
			role = r
		}
	}
	if r, ok := t.Resources[role]; !ok || r.Type != "AWS::IAM::Role" {
		return nil
	}
	var out []map[string]any
	addDoc := func(doc any) {
		for _, st := range asList(asMap(doc)["Statement"]) {
			if m := asMap(st); model.Flatten(m["Effect"]) == "Allow" {
				out = append(out, m)
			}
		}
	}
	for _, pol := range asList(t.Resources[role].Properties["Policies"]) {
		addDoc(asMap(pol)["PolicyDocument"])
	}
	managed := map[string]bool{}
	for _, m := range asList(t.Resources[role].Properties["ManagedPolicyArns"]) {
		if ref, ok := asMap(m)["Ref"].(string); ok {
			managed[ref] = true
		}
	}
	for _, id := range sortedKeys(t.Resources) {
		r := t.Resources[id]
		if r.Type != "AWS::IAM::Policy" && r.Type != "AWS::IAM::ManagedPolicy" {
			continue
		}
		attached := managed[id]
		for _, ro := range asList(r.Properties["Roles"]) {
			attached = attached || asMap(ro)["Ref"] == role
		}
		if attached {
			addDoc(r.Properties["PolicyDocument"])
		}
	}
	return out
}

// buildWords and deployWords tell a stage that builds or tests from one
// that deploys, by the words of its name: a build stage's project may
// share a role that can assume deploy roles without using it.
var (
	buildWords  = regexp.MustCompile(`(?i)(^| )(build|builds|package|packaging|unit|test|tests|testing|lint|scan|synth|compile|sast|dast|secrets)( |$)`)
	deployWords = regexp.MustCompile(`(?i)(^| )(deploy|deployment|release|promote|rollout|update|bootstrap|provision|apply)( |$)`)
)

// buildOnly reports whether a stage's name says it builds or tests and
// not that it deploys.
func buildOnly(name string) bool {
	w := model.Words(name)
	return buildWords.MatchString(w) && !deployWords.MatchString(w)
}

// statementAllows reports whether a statement's Action covers action
// (exactly, or by a trailing wildcard such as "sts:*" or "*").
func statementAllows(st map[string]any, action string) bool {
	for _, a := range asList(st["Action"]) {
		p := strings.ToLower(model.Flatten(a))
		want := strings.ToLower(action)
		if p == want || p == "*" || strings.HasSuffix(p, "*") && strings.HasPrefix(want, strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
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
	return model.DeclaredAccess(p.Template.Resources[p.LogicalID].Metadata[MetadataAccess], s.Name, stack)
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
		_, windowed := s.WindowRule()
		_, _, controlled := controllerWindow(p, s)
		infos[i].Windowed = windowed || controlled
		for _, t := range targets[i] {
			mt := model.Target{Account: t.account, Region: t.region, Stack: t.stack}
			if t.tpl != nil {
				mt.Tags, mt.Stack = t.tpl.Tags, t.tpl.StackName
			}
			infos[i].Targets = append(infos[i].Targets, mt)
		}
	}
	rr := c.roleRules()
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

// roleRules are the configuration's stage patterns, for model.Roles.
func (c *checker) roleRules() model.RoleRules {
	return model.RoleRules{
		Production: c.cc.production, NonProduction: c.cc.nonProduction,
		Alpha: c.cc.alpha, Beta: c.cc.beta, Gamma: c.cc.gamma, GammaOneBox: c.cc.gammaOneBox,
		TagKey: c.cc.tagKey, TagValue: c.cc.tagValue, ProductionAccounts: c.cc.prodAccounts,
	}
}
