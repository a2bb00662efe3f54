package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Template is a CloudFormation template as JSON.
type Template struct {
	// Path is where the template was read from ("" for a reader).
	Path string
	// Region is the stack's region when known (from the cloud assembly).
	Region string
	// Resources by logical ID.
	Resources map[string]Resource
	// Metadata is the template's top-level Metadata.
	Metadata map[string]any
	// Tags are the stack's tags (from the cloud assembly manifest).
	Tags map[string]string
}

// Resource is one template resource.
type Resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
	Metadata   map[string]any `json:"Metadata"`
	// UpdatePolicy matters for Lambda aliases shifted by CodeDeploy.
	UpdatePolicy map[string]any `json:"UpdatePolicy"`
}

// ParseTemplate reads a JSON CloudFormation template.
func ParseTemplate(r io.Reader, path string) (*Template, error) {
	var raw struct {
		Resources map[string]Resource `json:"Resources"`
		Metadata  map[string]any      `json:"Metadata"`
	}
	dec := json.NewDecoder(r)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("verify: %s is not a JSON CloudFormation template: %w", nameOr(path), err)
	}
	if dec.More() {
		return nil, fmt.Errorf("verify: %s has data after the template object", nameOr(path))
	}
	if raw.Resources == nil {
		return nil, fmt.Errorf("verify: %s has no Resources section", nameOr(path))
	}
	return &Template{Path: path, Resources: raw.Resources, Metadata: raw.Metadata}, nil
}

func nameOr(path string) string {
	if path == "" {
		return "the input"
	}
	return path
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
	// Type is "V1" or "V2".
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
	// Configuration values, flattened to strings (intrinsics become
	// "${…}").
	Configuration map[string]string
	// Env is the CodeBuild project's environment variables, for CodeBuild
	// actions whose project is in the same template.
	Env map[string]string
}

// Condition is a stage condition.
type Condition struct {
	Result string
	Rules  []Rule
}

// Rule is one rule of a condition.
type Rule struct {
	Name     string
	Provider string
	// Region is the rule's region, defaulted to the pipeline's.
	Region        string
	Configuration map[string]string
}

// Pipelines returns every CodePipeline in the template, sorted by logical
// ID. region is the stack's region, the default of actions and rules.
func (t *Template) Pipelines() []Pipeline {
	var out []Pipeline
	for _, id := range slices.Sorted(maps.Keys(t.Resources)) {
		r := t.Resources[id]
		if r.Type != "AWS::CodePipeline::Pipeline" {
			continue
		}
		p := Pipeline{LogicalID: id, Template: t, Region: t.Region, Type: str(r.Properties["PipelineType"])}
		if p.Region == "" {
			p.Region = homeRegion(r.Properties)
		}
		if p.Type == "" {
			p.Type = "V1"
		}
		stages, _ := r.Properties["Stages"].([]any)
		for i, s := range stages {
			sm, _ := s.(map[string]any)
			st := Stage{Index: i, Name: str(sm["Name"])}
			acts, _ := sm["Actions"].([]any)
			for _, a := range acts {
				st.Actions = append(st.Actions, t.action(asMap(a), p.Region))
			}
			st.BeforeEntry = condition(asMap(sm["BeforeEntry"]), p.Region)
			st.OnSuccess = condition(asMap(sm["OnSuccess"]), p.Region)
			st.OnFailure = condition(asMap(sm["OnFailure"]), p.Region)
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
		Name: str(a["Name"]), Category: str(typ["Category"]), Provider: str(typ["Provider"]),
		Region: str(a["Region"]), Configuration: map[string]string{},
	}
	if act.Region == "" {
		act.Region = region
	}
	if n, err := strconv.Atoi(Flatten(a["RunOrder"])); err == nil {
		act.RunOrder = n
	} else {
		act.RunOrder = 1
	}
	cfg := asMap(a["Configuration"])
	for k, v := range cfg {
		act.Configuration[k] = Flatten(v)
	}
	if act.Provider == "CodeBuild" {
		if ref, ok := asMap(cfg["ProjectName"])["Ref"].(string); ok {
			if proj, ok := t.Resources[ref]; ok && proj.Type == "AWS::CodeBuild::Project" {
				act.Env = map[string]string{}
				vars, _ := asMap(proj.Properties["Environment"])["EnvironmentVariables"].([]any)
				for _, v := range vars {
					vm := asMap(v)
					act.Env[str(vm["Name"])] = Flatten(vm["Value"])
				}
			}
		}
	}
	return act
}

// condition reads a BeforeEntry/OnSuccess (a list of conditions, of which
// CodePipeline allows one) or an OnFailure (a Result and optional
// conditions) declaration.
func condition(m map[string]any, region string) *Condition {
	if m == nil {
		return nil
	}
	c := &Condition{Result: str(m["Result"])}
	conds, _ := m["Conditions"].([]any)
	for _, cd := range conds {
		cm := asMap(cd)
		if c.Result == "" {
			c.Result = str(cm["Result"])
		}
		rules, _ := cm["Rules"].([]any)
		for _, r := range rules {
			rm := asMap(r)
			rule := Rule{Name: str(rm["Name"]), Provider: str(asMap(rm["RuleTypeId"])["Provider"]), Region: str(rm["Region"]), Configuration: map[string]string{}}
			if rule.Region == "" {
				rule.Region = region
			}
			for k, v := range asMap(rm["Configuration"]) {
				rule.Configuration[k] = Flatten(v)
			}
			c.Rules = append(c.Rules, rule)
		}
	}
	return c
}

// Flatten renders a template value as a string: strings as they are,
// numbers and booleans in JSON, Fn::Join joined, Fn::Sub's template, and
// other intrinsics (Ref, Fn::GetAtt, …) as "${…}" placeholders.
func Flatten(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64, bool, json.Number:
		b, _ := json.Marshal(x)
		return string(b)
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			parts, _ := j[1].([]any)
			ss := make([]string, len(parts))
			for i, p := range parts {
				ss[i] = Flatten(p)
			}
			return strings.Join(ss, Flatten(j[0]))
		}
		if s, ok := x["Fn::Sub"].(string); ok {
			return s
		}
		if r, ok := x["Ref"].(string); ok {
			return "${" + r + "}"
		}
		if ga, ok := x["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			return "${" + Flatten(ga[0]) + "." + Flatten(ga[1]) + "}"
		}
		return "${?}"
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// DeployRegions are the regions a stage deploys CloudFormation stacks to
// (CHANGE_SET_EXECUTE or CREATE_UPDATE actions), in first-seen order.
func (s Stage) DeployRegions() []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range s.Actions {
		if a.Provider != "CloudFormation" {
			continue
		}
		switch a.Configuration["ActionMode"] {
		case "CHANGE_SET_EXECUTE", "CREATE_UPDATE", "REPLACE_ON_FAILURE":
			if !seen[a.Region] {
				seen[a.Region] = true
				out = append(out, a.Region)
			}
		}
	}
	return out
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
