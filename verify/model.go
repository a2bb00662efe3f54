package verify

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/safepipe/safepipe/model"
)

// Template is a CloudFormation template as JSON, with what the cloud
// assembly manifest says about its stack.
type Template struct {
	// Path is where the template was read from: relative to the assembly
	// root for an assembly, the name given for a single template.
	Path string
	// Region and Account are the stack's environment when the manifest
	// gives one ("" when unknown or environment-agnostic).
	Region, Account string
	// StackName is the stack's name (the manifest's stackName, else its
	// artifact ID; "" for a single template).
	StackName string
	// Tags are the stack's tags (from the cloud assembly manifest).
	Tags map[string]string
	// Size is the template's size in bytes as read.
	Size int64
	// Resources by logical ID.
	Resources map[string]Resource
	// Metadata is the template's top-level Metadata.
	Metadata map[string]any
	// Outputs and Parameters are the template's sections of those names,
	// as read (nil when absent).
	Outputs, Parameters map[string]any
	// gates are the gate configurations of safepipe's gate controller
	// functions in this template (see safepipe_gates.go).
	gates []*gateConfig
}

// Resource is one template resource.
type Resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
	Metadata   map[string]any `json:"Metadata"`
	// UpdatePolicy matters for Lambda aliases shifted by CodeDeploy.
	UpdatePolicy map[string]any `json:"UpdatePolicy"`
}

// ParseTemplate reads a JSON CloudFormation template with the default
// limits. See ReadTemplate.
func ParseTemplate(r io.Reader, path string) (*Template, error) {
	return ReadTemplate(r, path, nil)
}

// ReadTemplate reads a JSON CloudFormation template strictly and within
// lim (nil: DefaultLimits): one JSON document, no duplicate or case-variant
// keys, alphanumeric logical IDs, resources with a Type, intrinsic
// functions that expand within the limits, and CodePipeline pipelines
// whose stages, actions, conditions and rules have the shape CodePipeline
// requires. Every problem found is reported, joined, each naming where.
func ReadTemplate(r io.Reader, name string, lim *Limits) (*Template, error) {
	l := lim.OrDefault()
	b, err := readAllLimit(r, l.MaxFileBytes, nameOr(name))
	if err != nil {
		return nil, err
	}
	return parseTemplate(b, name, l)
}

// readAllLimit reads r to its end, refusing more than max bytes.
func readAllLimit(r io.Reader, max int64, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("verify: %s: %w", Escape(name), err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("verify: %s is larger than %d bytes (limit %d)", Escape(name), max, max)
	}
	return b, nil
}

func parseTemplate(b []byte, name string, l Limits) (*Template, error) {
	shown := Escape(nameOr(name))
	v, err := DecodeJSON(b, shown, l.MaxJSONDepth)
	if err != nil {
		return nil, fmt.Errorf("verify: %s is not a valid JSON CloudFormation template:\n%w", shown, err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("verify: %s is not a CloudFormation template (a JSON object)", shown)
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, errors.New(Escape(fmt.Sprintf("verify: %s: "+format, append([]any{shown}, args...)...))))
	}
	t := &Template{Path: name, Size: int64(len(b)), Resources: map[string]Resource{}}
	section := func(key string) map[string]any {
		raw, present := doc[key]
		if !present {
			return nil
		}
		m, ok := raw.(map[string]any)
		if !ok {
			bad("%s is not an object", key)
		}
		return m
	}
	t.Metadata = section("Metadata")
	t.Outputs = section("Outputs")
	t.Parameters = section("Parameters")
	res, present := doc["Resources"]
	if !present {
		return nil, fmt.Errorf("verify: %s has no Resources section", shown)
	}
	resources, ok := res.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("verify: %s: Resources is not an object", shown)
	}
	for _, id := range slices.Sorted(maps.Keys(resources)) {
		if !logicalID.MatchString(id) {
			bad("resource logical ID %q is not alphanumeric (CloudFormation allows A-Za-z0-9)", id)
			continue
		}
		rm, ok := resources[id].(map[string]any)
		if !ok {
			bad("resource %s is not an object", id)
			continue
		}
		r := Resource{}
		r.Type, ok = rm["Type"].(string)
		if !ok || r.Type == "" {
			bad("resource %s has no Type string", id)
			continue
		}
		for key, dst := range map[string]*map[string]any{"Properties": &r.Properties, "Metadata": &r.Metadata, "UpdatePolicy": &r.UpdatePolicy} {
			if raw, present := rm[key]; present && raw != nil {
				m, ok := raw.(map[string]any)
				if !ok {
					bad("resource %s: %s is not an object", id, key)
					continue
				}
				*dst = m
			}
		}
		t.Resources[id] = r
	}
	for _, e := range model.CheckExpansion(doc, l) {
		bad("%v", e)
	}
	if len(errs) == 0 {
		// A pipeline's Fn::If (around stages, PipelineType, …) takes the
		// branch of its condition with the parameters' defaults, as a
		// deployment without parameter overrides would; a pipeline whose
		// Condition is false is not created.
		conditions, _ := doc["Conditions"].(map[string]any)
		ev := model.NewEvaluator(model.Scope{Parameters: t.Parameters, Conditions: conditions,
			Resource: func(id string) (string, map[string]any, bool) {
				r, ok := t.Resources[id]
				return r.Type, r.Properties, ok
			}})
		for _, id := range slices.Sorted(maps.Keys(t.Resources)) {
			r := t.Resources[id]
			if r.Type != "AWS::CodePipeline::Pipeline" {
				continue
			}
			cond, _ := asMap(resources[id])["Condition"].(string)
			created, known := ev.Created(cond)
			switch {
			case !known:
				bad("pipeline %s: its Condition %s cannot be told from the parameters' defaults", id, cond)
				continue
			case !created:
				delete(t.Resources, id)
				continue
			}
			sel, err := ev.Select(r.Properties)
			if err != nil {
				bad("pipeline %s: %v", id, err)
				continue
			}
			r.Properties, _ = sel.(map[string]any)
			t.Resources[id] = r
		}
	}
	if len(errs) == 0 {
		for _, id := range slices.Sorted(maps.Keys(t.Resources)) {
			if t.Resources[id].Type == "AWS::CodePipeline::Pipeline" {
				for _, e := range validatePipeline(id, t.Resources[id].Properties, l) {
					bad("%v", e)
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

func nameOr(path string) string {
	if path == "" {
		return "the input"
	}
	return path
}

// logicalID is CloudFormation's rule for logical IDs.
var logicalID = regexp.MustCompile(`^[A-Za-z0-9]{1,255}$`)

// pipelineName is CodePipeline's pattern for stage, action and rule names
// (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_StageDeclaration.html:
// "Length Constraints: Minimum length of 1. Maximum length of 100.
// Pattern: [A-Za-z0-9.@\-_]+"; the same for ActionDeclaration and
// RuleDeclaration names). A name outside it, such as one with a Cyrillic
// letter that looks like a Latin one, cannot be deployed, so verify refuses
// it rather than guess what it means.
var pipelineName = regexp.MustCompile(`^[A-Za-z0-9.@\-_]{1,100}$`)

// validName reports whether a stage, action or rule name is a string of
// CodePipeline's pattern, or an intrinsic function CloudFormation resolves
// at deployment (CDK names a CodeCommit source action after its
// repository).
func validName(v any) bool {
	switch x := v.(type) {
	case string:
		return pipelineName.MatchString(x)
	case map[string]any:
		_, ref := x["Ref"]
		_, ga := x["Fn::GetAtt"]
		_, join := x["Fn::Join"]
		_, sub := x["Fn::Sub"]
		return len(x) == 1 && (ref || ga || join || sub)
	}
	return false
}

// validatePipeline checks that a pipeline has the shape CodePipeline
// requires, within the limits verify analyses.
func validatePipeline(id string, props map[string]any, l Limits) []error {
	var errs []error
	bad := func(format string, args ...any) {
		if len(errs) < model.MaxKeyErrors {
			errs = append(errs, errors.New(Escape(fmt.Sprintf("pipeline %s: "+format, append([]any{id}, args...)...))))
		}
	}
	if pt, present := props["PipelineType"]; present {
		if s, ok := pt.(string); !ok || (s != "V1" && s != "V2") {
			bad("PipelineType %q is not V1 or V2", model.Flatten(pt))
		}
	}
	raw, present := props["Stages"]
	if !present {
		bad("has no Stages")
		return errs
	}
	stages, ok := raw.([]any)
	if !ok {
		bad("Stages is not a list")
		return errs
	}
	// https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-pipeline-structure.html:
	// a pipeline must contain at least two stages.
	if len(stages) < 2 {
		bad("has %d stage(s); CodePipeline requires at least two", len(stages))
		return errs
	}
	if len(stages) > l.MaxStages {
		bad("has %d stages; verify analyses at most %d (limit %d; CodePipeline allows 50)", len(stages), l.MaxStages, l.MaxStages)
		return errs
	}
	for _, e := range model.CheckArtifacts(stages, model.Flatten) {
		bad("%v", e)
	}
	seen := map[string]bool{}
	for i, s := range stages {
		sm, ok := s.(map[string]any)
		if !ok {
			bad("stage %d is not an object", i+1)
			continue
		}
		name := model.Flatten(sm["Name"])
		if !validName(sm["Name"]) {
			bad("stage %d has name %q; CodePipeline stage names match [A-Za-z0-9.@\\-_]{1,100}", i+1, model.Flatten(sm["Name"]))
			continue
		}
		if seen[name] {
			bad("stage name %s is used twice; CodePipeline stage names are unique", name)
		}
		seen[name] = true
		acts, ok := sm["Actions"].([]any)
		if !ok || len(acts) == 0 {
			bad("stage %s has no Actions list", name)
			continue
		}
		if len(acts) > l.MaxActions {
			bad("stage %s has %d actions; verify analyses at most %d (limit %d; CodePipeline allows 50)", name, len(acts), l.MaxActions, l.MaxActions)
			continue
		}
		for j, a := range acts {
			am, ok := a.(map[string]any)
			if !ok {
				bad("stage %s: action %d is not an object", name, j+1)
				continue
			}
			an := model.Flatten(am["Name"])
			if !validName(am["Name"]) {
				bad("stage %s: action %d has name %q; CodePipeline action names match [A-Za-z0-9.@\\-_]{1,100}", name, j+1, model.Flatten(am["Name"]))
				continue
			}
			typ, ok := am["ActionTypeId"].(map[string]any)
			if !ok {
				bad("stage %s: action %s has no ActionTypeId object", name, an)
				continue
			}
			for _, k := range []string{"Category", "Provider"} {
				if _, ok := typ[k].(string); !ok {
					bad("stage %s: action %s: ActionTypeId.%s is not a string", name, an, k)
				}
			}
			if c, present := am["Configuration"]; present {
				if _, ok := c.(map[string]any); !ok {
					bad("stage %s: action %s: Configuration is not an object", name, an)
				}
			}
			if ro, present := am["RunOrder"]; present {
				// https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ActionDeclaration.html:
				// runOrder "Valid Range: Minimum value of 1. Maximum value of 999."
				if n, err := strconv.Atoi(model.Flatten(ro)); err != nil || n < 1 || n > 999 {
					bad("stage %s: action %s: RunOrder %q is not a whole number from 1 to 999 (limit 999)", name, an, model.Flatten(ro))
				}
			}
		}
		for _, key := range []string{"BeforeEntry", "OnSuccess", "OnFailure"} {
			raw, present := sm[key]
			if !present {
				continue
			}
			cm, ok := raw.(map[string]any)
			if !ok {
				bad("stage %s: %s is not an object", name, key)
				continue
			}
			conds, present := cm["Conditions"]
			if !present {
				if key != "OnFailure" {
					bad("stage %s: %s has no Conditions", name, key)
				}
				continue
			}
			cl, ok := conds.([]any)
			if !ok {
				bad("stage %s: %s.Conditions is not a list", name, key)
				continue
			}
			for ci, c := range cl {
				cmap, ok := c.(map[string]any)
				if !ok {
					bad("stage %s: %s condition %d is not an object", name, key, ci+1)
					continue
				}
				rules, ok := cmap["Rules"].([]any)
				if !ok {
					bad("stage %s: %s condition %d has no Rules list", name, key, ci+1)
					continue
				}
				if len(rules) > l.MaxRules {
					bad("stage %s: %s condition %d has %d rules; verify analyses at most %d (limit %d; CodePipeline allows 5)", name, key, ci+1, len(rules), l.MaxRules, l.MaxRules)
					continue
				}
				for ri, r := range rules {
					rm, ok := r.(map[string]any)
					if !ok {
						bad("stage %s: %s rule %d is not an object", name, key, ri+1)
						continue
					}
					rn := model.Flatten(rm["Name"])
					if !validName(rm["Name"]) {
						bad("stage %s: %s rule %d has name %q; CodePipeline rule names match [A-Za-z0-9.@\\-_]{1,100}", name, key, ri+1, model.Flatten(rm["Name"]))
						continue
					}
					rt, ok := rm["RuleTypeId"].(map[string]any)
					if !ok {
						bad("stage %s: rule %s has no RuleTypeId object", name, rn)
						continue
					}
					prov, ok := rt["Provider"].(string)
					if !ok {
						bad("stage %s: rule %s: RuleTypeId.Provider is not a string", name, rn)
						continue
					}
					cfg, _ := rm["Configuration"].(map[string]any)
					if _, present := rm["Configuration"]; present && cfg == nil {
						bad("stage %s: rule %s: Configuration is not an object", name, rn)
						continue
					}
					if prov == "CloudWatchAlarm" {
						if wt, present := cfg["WaitTime"]; present {
							if err := checkWaitTime(wt, l.MaxWaitMinutes); err != nil {
								bad("stage %s: rule %s: %v", name, rn, err)
							}
						}
					}
				}
			}
		}
	}
	return errs
}

// checkWaitTime range-checks a WaitTime before any arithmetic: a whole
// number of minutes from 0 to max. An intrinsic function (unknown until
// deployment) is accepted and counts as 0.
func checkWaitTime(v any, max int) error {
	s := model.Flatten(v)
	if strings.Contains(s, "${") {
		return nil
	}
	if len(s) > 12 {
		return fmt.Errorf("WaitTime %q is not a whole number of minutes from 0 to %d (limit %d)", s[:12]+"…", max, max)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		return fmt.Errorf("WaitTime %q is not a whole number of minutes from 0 to %d (limit %d)", s, max, max)
	}
	return nil
}

// Pipeline is a CodePipeline read from a template.
type Pipeline struct {
	// LogicalID is the pipeline resource's logical ID.
	LogicalID string
	// Template is the template the pipeline is in.
	Template *Template
	// Region is the pipeline's region ("" when unknown); actions and rules
	// without a Region run there.
	Region string
	// Account is the pipeline's account ("" when unknown).
	Account string
	// Type is "V1" or "V2" (V1 when the template does not say).
	Type string
	// Stages in order.
	Stages []Stage
}

// Stage is one pipeline stage.
type Stage struct {
	Index                             int
	Name                              string
	Actions                           []Action
	BeforeEntry, OnSuccess, OnFailure *Condition
}

// Action is one stage action.
type Action struct {
	Name     string
	Category string
	Provider string
	// Region is the action's region, defaulted to the pipeline's.
	Region   string
	RunOrder int
	// RoleArn is the role the action assumes (flattened; "" when none).
	RoleArn string
	// Configuration values, flattened to strings (intrinsics become
	// "${…}").
	Configuration map[string]string
	// Raw is the configuration as written in the template.
	Raw map[string]any
	// Env is the action's environment: for a CodeBuild or Commands action,
	// the project's environment variables (when the project is in the same
	// template) overridden by the action-level EnvironmentVariables; for a
	// Lambda invoke action, the function's environment variables (when the
	// function is in the same template). Nil when none is known.
	Env map[string]string
}

// Condition is a stage condition: BeforeEntry, OnSuccess or OnFailure.
type Condition struct {
	// Result is the result of the condition (of its first condition, when
	// the template lists several, which CodePipeline does not allow).
	Result string
	// Rules of every condition listed, in order.
	Rules []Rule
	// Conditions is how many conditions the template lists; RuleCounts is
	// how many rules each has.
	Conditions int
	RuleCounts []int
}

// Rule is one rule of a condition.
type Rule struct {
	Name     string
	Provider string
	// Region is the rule's region, defaulted to the pipeline's.
	Region string
	// RoleArn is the role the rule assumes (flattened; "" when none).
	RoleArn       string
	Configuration map[string]string
	// Env is, for a LambdaInvoke rule whose function is in the same
	// template, the function's environment variables; for a Commands rule,
	// its EnvironmentVariables configuration. Nil when none is known.
	Env map[string]string
}

// Pipelines returns every CodePipeline in the template, sorted by logical
// ID. The template's Region is the default of actions and rules.
func (t *Template) Pipelines() []Pipeline {
	var out []Pipeline
	for _, id := range slices.Sorted(maps.Keys(t.Resources)) {
		r := t.Resources[id]
		if r.Type != "AWS::CodePipeline::Pipeline" {
			continue
		}
		p := Pipeline{LogicalID: id, Template: t, Region: t.Region, Account: t.Account, Type: str(r.Properties["PipelineType"])}
		if p.Region == "" {
			p.Region = homeRegion(r.Properties)
		}
		if p.Account == "" {
			p.Account = arnAccount(model.Flatten(r.Properties["RoleArn"]))
		}
		if p.Type == "" {
			p.Type = "V1"
		}
		stages, _ := r.Properties["Stages"].([]any)
		for i, s := range stages {
			sm, _ := s.(map[string]any)
			st := Stage{Index: i, Name: model.Flatten(sm["Name"])}
			acts, _ := sm["Actions"].([]any)
			for _, a := range acts {
				st.Actions = append(st.Actions, t.action(asMap(a), p.Region))
			}
			st.BeforeEntry = t.condition(asMap(sm["BeforeEntry"]), p.Region)
			st.OnSuccess = t.condition(asMap(sm["OnSuccess"]), p.Region)
			st.OnFailure = t.condition(asMap(sm["OnFailure"]), p.Region)
			p.Stages = append(p.Stages, st)
		}
		out = append(out, p)
	}
	return out
}

// homeRegion infers a cross-region pipeline's own region from its artifact
// stores: the home store's bucket is a resource of the template (a Ref),
// the others are named buckets of support stacks.
func homeRegion(props map[string]any) string {
	stores, _ := props["ArtifactStores"].([]any)
	for _, s := range stores {
		sm := asMap(s)
		if _, ok := asMap(asMap(sm["ArtifactStore"])["Location"])["Ref"]; ok {
			return str(sm["Region"])
		}
	}
	return ""
}

func (t *Template) action(a map[string]any, region string) Action {
	typ := asMap(a["ActionTypeId"])
	act := Action{
		Name: model.Flatten(a["Name"]), Category: str(typ["Category"]), Provider: str(typ["Provider"]),
		Region: model.Flatten(a["Region"]), RoleArn: model.Flatten(a["RoleArn"]), Configuration: map[string]string{},
	}
	if act.Region == "" {
		act.Region = region
	}
	if n, err := strconv.Atoi(model.Flatten(a["RunOrder"])); err == nil {
		act.RunOrder = n
	} else {
		act.RunOrder = 1
	}
	cfg := asMap(a["Configuration"])
	act.Raw = cfg
	for k, v := range cfg {
		act.Configuration[k] = model.Flatten(v)
	}
	switch act.Provider {
	case "CodeBuild", "Commands":
		if ref, ok := asMap(cfg["ProjectName"])["Ref"].(string); ok {
			if proj, ok := t.Resources[ref]; ok && proj.Type == "AWS::CodeBuild::Project" {
				act.Env = map[string]string{}
				vars, _ := asMap(proj.Properties["Environment"])["EnvironmentVariables"].([]any)
				for _, v := range vars {
					vm := asMap(v)
					act.Env[model.Flatten(vm["Name"])] = model.Flatten(vm["Value"])
				}
			}
		}
		if ev, ok := actionEnv(cfg["EnvironmentVariables"]); ok {
			if act.Env == nil {
				act.Env = map[string]string{}
			}
			maps.Copy(act.Env, ev)
		}
	case "Lambda":
		act.Env = t.functionEnv(cfg["FunctionName"])
	}
	return act
}

// actionEnv reads an action-level EnvironmentVariables configuration: a
// JSON list of {"name", "value", "type"} as CodeBuild actions take it
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeBuild.html).
func actionEnv(v any) (map[string]string, bool) {
	var list []any
	switch x := v.(type) {
	case string:
		d, err := DecodeJSON([]byte(x), "EnvironmentVariables", 8)
		if err != nil {
			return nil, false
		}
		list, _ = d.([]any)
	case []any:
		list = x
	}
	if list == nil {
		return nil, false
	}
	out := map[string]string{}
	for _, e := range list {
		m := asMap(e)
		name := model.Flatten(m["name"])
		if name == "" {
			name = model.Flatten(m["Name"])
		}
		val, ok := m["value"]
		if !ok {
			val = m["Value"]
		}
		out[name] = model.Flatten(val)
	}
	return out, true
}

// functionEnv returns the environment variables of the Lambda function a
// FunctionName refers to, when it is a resource of the template.
func (t *Template) functionEnv(fn any) map[string]string {
	ref, ok := asMap(fn)["Ref"].(string)
	if !ok {
		return nil
	}
	f, ok := t.Resources[ref]
	if !ok || f.Type != "AWS::Lambda::Function" {
		return nil
	}
	out := map[string]string{}
	for k, v := range asMap(asMap(f.Properties["Environment"])["Variables"]) {
		out[k] = model.Flatten(v)
	}
	return out
}

// condition reads a BeforeEntry/OnSuccess (a list of conditions, of which
// CodePipeline allows one) or an OnFailure (a Result and optional
// conditions) declaration.
func (t *Template) condition(m map[string]any, region string) *Condition {
	if m == nil {
		return nil
	}
	c := &Condition{Result: str(m["Result"])}
	conds, _ := m["Conditions"].([]any)
	c.Conditions = len(conds)
	for _, cd := range conds {
		cm := asMap(cd)
		if c.Result == "" {
			c.Result = str(cm["Result"])
		}
		rules, _ := cm["Rules"].([]any)
		c.RuleCounts = append(c.RuleCounts, len(rules))
		for _, r := range rules {
			rm := asMap(r)
			rule := Rule{
				Name: model.Flatten(rm["Name"]), Provider: str(asMap(rm["RuleTypeId"])["Provider"]),
				Region: model.Flatten(rm["Region"]), RoleArn: model.Flatten(rm["RoleArn"]), Configuration: map[string]string{},
			}
			if rule.Region == "" {
				rule.Region = region
			}
			cfg := asMap(rm["Configuration"])
			for k, v := range cfg {
				rule.Configuration[k] = model.Flatten(v)
			}
			switch rule.Provider {
			case "LambdaInvoke":
				rule.Env = t.functionEnv(cfg["FunctionName"])
			case "Commands":
				if ev, ok := actionEnv(cfg["EnvironmentVariables"]); ok {
					rule.Env = ev
				}
			}
			c.Rules = append(c.Rules, rule)
		}
	}
	return c
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// arnAccount returns the account of an ARN ("arn:partition:service:region:
// account:…"), or "" when it has no literal 12-digit account.
func arnAccount(arn string) string {
	parts := strings.SplitN(arnPlaceholders(arn), ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	if isAccount(parts[4]) {
		return parts[4]
	}
	return ""
}

// arnPlaceholders replaces the "${…}" placeholders of a flattened ARN
// ("arn:${AWS::Partition}:iam::…") with "_", so its colons split fields.
func arnPlaceholders(s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteByte('_')
		s = s[i+j+1:]
	}
}

func isAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// deployModes are the CloudFormation action modes that change a stack
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CloudFormation.html);
// CHANGE_SET_REPLACE only prepares a change set.
var deployModes = map[string]bool{"CHANGE_SET_EXECUTE": true, "CREATE_UPDATE": true, "REPLACE_ON_FAILURE": true, "DELETE_ONLY": true}

// Deploys reports whether the action changes what runs somewhere: an
// action in the Deploy category (CloudFormation, CodeDeploy, ECS,
// AppConfig, Elastic Beanstalk, S3, …), except a CloudFormation action that
// only prepares a change set.
func (a Action) Deploys() bool {
	if !strings.EqualFold(a.Category, "Deploy") {
		return false
	}
	if a.Provider == "CloudFormation" {
		return deployModes[a.Configuration["ActionMode"]]
	}
	return true
}

// DeployRegions are the regions the stage's deploy actions change, in
// first-seen order.
func (s Stage) DeployRegions() []string {
	var out []string
	for _, a := range s.Actions {
		if a.Deploys() && !slices.Contains(out, a.Region) {
			out = append(out, a.Region)
		}
	}
	return out
}

// Deploys reports whether the stage has a deploy action.
func (s Stage) Deploys() bool {
	return slices.ContainsFunc(s.Actions, Action.Deploys)
}

// Action returns the stage's action named name.
func (s Stage) Action(name string) (Action, bool) {
	for _, a := range s.Actions {
		if a.Name == name {
			return a, true
		}
	}
	return Action{}, false
}
