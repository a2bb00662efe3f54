// Package iameval answers, for the tests of safepipe's constructs, whether
// a role that a synthesized template creates may make a call: the
// identity policies attached to it in the template (AWS::IAM::Policy
// resources naming it, its inline Policies, and customer managed policies
// of the template), evaluated the way IAM's policy evaluation logic
// describes for one account: "an explicit deny in any policy overrides
// any allows", and without an allow the request is denied
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
//
// It is a test tool, deliberately small: AWS managed policies attached by
// ARN are not known and grant nothing here (a test that needs one names it
// in Actor.Managed), resource-based policies and permissions boundaries
// are not read, and conditions are judged with the keys a test supplies —
// a statement whose condition uses an operator or key it does not know
// does not apply when it allows, and applies when it denies (fail closed
// both ways).
package iameval

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
)

// Statement is one policy statement, its intrinsics flattened.
type Statement struct {
	Effect                 string
	Actions, NotActions    []string
	Resources, NotResource []string
	Condition              map[string]map[string][]string
	// From names the policy it came from, for messages.
	From string
}

// Env fills pseudo parameters and references when flattening.
type Env struct {
	Partition, Account, Region string
	// Refs maps a logical ID to what a Ref (or GetAtt …Arn) of it stands
	// for in this test; unknown references flatten to "${ID}".
	Refs map[string]string
}

// Template is a template's resources.
type Template struct {
	Resources map[string]struct {
		Type       string         `json:"Type"`
		Properties map[string]any `json:"Properties"`
	} `json:"Resources"`
}

// ReadTemplate reads a template file.
func ReadTemplate(p string) (*Template, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var t Template
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &t, nil
}

// RoleStatements returns every statement of the identity policies the
// template attaches to the role with logical ID roleID.
func (t *Template) RoleStatements(roleID string, env Env) ([]Statement, error) {
	role, ok := t.Resources[roleID]
	if !ok || role.Type != "AWS::IAM::Role" {
		return nil, fmt.Errorf("no role %s in the template", roleID)
	}
	var out []Statement
	add := func(doc any, from string) {
		m, _ := doc.(map[string]any)
		for _, s := range asList(m["Statement"]) {
			out = append(out, statement(s, env, from))
		}
	}
	for i, p := range asList(role.Properties["Policies"]) {
		add(asMap(p)["PolicyDocument"], fmt.Sprintf("%s inline policy %d", roleID, i))
	}
	attached := func(roles any) bool {
		for _, r := range asList(roles) {
			if ref, ok := asMap(r)["Ref"].(string); ok && ref == roleID {
				return true
			}
		}
		return false
	}
	ids := make([]string, 0, len(t.Resources))
	for id := range t.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := t.Resources[id]
		switch r.Type {
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			if attached(r.Properties["Roles"]) {
				add(r.Properties["PolicyDocument"], id)
			}
		}
	}
	for _, mp := range asList(role.Properties["ManagedPolicyArns"]) {
		if ref, ok := asMap(mp)["Ref"].(string); ok {
			if r, ok := t.Resources[ref]; ok && r.Type == "AWS::IAM::ManagedPolicy" && !attached(r.Properties["Roles"]) {
				add(r.Properties["PolicyDocument"], ref)
			}
		}
	}
	return out, nil
}

// RoleByName returns the logical ID of the role whose RoleName (flattened)
// is name.
func (t *Template) RoleByName(name string, env Env) (string, bool) {
	for id, r := range t.Resources {
		if r.Type == "AWS::IAM::Role" && flatten(r.Properties["RoleName"], env) == name {
			return id, true
		}
	}
	return "", false
}

func statement(v any, env Env, from string) Statement {
	m := asMap(v)
	s := Statement{Effect: flatten(m["Effect"], env), From: from, Condition: map[string]map[string][]string{}}
	for _, a := range asList(m["Action"]) {
		s.Actions = append(s.Actions, flatten(a, env))
	}
	for _, a := range asList(m["NotAction"]) {
		s.NotActions = append(s.NotActions, flatten(a, env))
	}
	for _, r := range asList(m["Resource"]) {
		s.Resources = append(s.Resources, flatten(r, env))
	}
	for _, r := range asList(m["NotResource"]) {
		s.NotResource = append(s.NotResource, flatten(r, env))
	}
	for op, kv := range asMap(m["Condition"]) {
		s.Condition[op] = map[string][]string{}
		for k, vals := range asMap(kv) {
			for _, x := range asList(vals) {
				s.Condition[op][k] = append(s.Condition[op][k], flatten(x, env))
			}
		}
	}
	return s
}

// Call is one request: an action on a resource, with the condition keys
// the request carries.
type Call struct {
	Action   string
	Resource string
	Context  map[string]string
}

func (c Call) String() string { return c.Action + " on " + c.Resource }

// Allowed reports whether the statements allow the call, and why not.
func Allowed(stmts []Statement, c Call) (bool, string) {
	allowed := false
	for _, s := range stmts {
		if !matchesAction(s, c.Action) || !matchesResource(s, c.Resource) {
			continue
		}
		applies := conditionHolds(s.Condition, c.Context)
		switch s.Effect {
		case "Deny":
			if applies != condFalse {
				return false, "explicitly denied by " + s.From
			}
		case "Allow":
			if applies == condTrue {
				allowed = true
			}
		}
	}
	if !allowed {
		return false, "no statement allows it"
	}
	return true, ""
}

func matchesAction(s Statement, action string) bool {
	if len(s.NotActions) > 0 {
		return !slices.ContainsFunc(s.NotActions, func(p string) bool { return glob(strings.ToLower(p), strings.ToLower(action)) })
	}
	return slices.ContainsFunc(s.Actions, func(p string) bool { return glob(strings.ToLower(p), strings.ToLower(action)) })
}

func matchesResource(s Statement, resource string) bool {
	if len(s.NotResource) > 0 {
		return !slices.ContainsFunc(s.NotResource, func(p string) bool { return glob(p, resource) })
	}
	return slices.ContainsFunc(s.Resources, func(p string) bool { return glob(p, resource) })
}

type condResult int

const (
	condFalse condResult = iota
	condTrue
	condUnknown
)

// conditionHolds judges a condition block with the request's keys: every
// operator's every key must hold (AND); within a key, any value (OR).
func conditionHolds(cond map[string]map[string][]string, ctx map[string]string) condResult {
	for op, kvs := range cond {
		for key, vals := range kvs {
			got, present := ctx[key]
			if !present {
				if strings.HasSuffix(op, "IfExists") {
					continue
				}
				return condFalse
			}
			var match func(pattern, v string) bool
			switch strings.TrimSuffix(op, "IfExists") {
			case "StringEquals", "ArnEquals":
				match = func(p, v string) bool { return p == v }
			case "StringLike", "ArnLike":
				match = glob
			case "StringEqualsIgnoreCase":
				match = strings.EqualFold
			default:
				return condUnknown
			}
			if !slices.ContainsFunc(vals, func(p string) bool { return match(p, got) }) {
				return condFalse
			}
		}
	}
	return condTrue
}

// glob matches IAM's wildcards: * any run of characters, ? one.
func glob(pattern, s string) bool {
	ok, _ := path.Match(strings.NewReplacer("[", "\\[", "\\", "\\\\").Replace(strings.ReplaceAll(pattern, "/", "\x00")), strings.ReplaceAll(s, "/", "\x00"))
	return ok
}

// flatten renders a template value as a string: Fn::Join, Fn::Sub with
// pseudo parameters and references, Ref and Fn::GetAtt through env.
func flatten(v any, env Env) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case map[string]any:
		for k, arg := range x {
			switch k {
			case "Ref":
				return ref(fmt.Sprint(arg), env)
			case "Fn::GetAtt":
				parts := asList(arg)
				if len(parts) == 2 {
					return ref(fmt.Sprintf("%v.%v", parts[0], parts[1]), env)
				}
				if s, ok := arg.(string); ok {
					return ref(s, env)
				}
			case "Fn::Join":
				l := asList(arg)
				if len(l) == 2 {
					var parts []string
					for _, p := range asList(l[1]) {
						parts = append(parts, flatten(p, env))
					}
					return strings.Join(parts, fmt.Sprint(l[0]))
				}
			case "Fn::Sub":
				s := ""
				vars := map[string]any{}
				switch a := arg.(type) {
				case string:
					s = a
				case []any:
					if len(a) == 2 {
						s, _ = a[0].(string)
						vars = asMap(a[1])
					}
				}
				var b strings.Builder
				for {
					i := strings.Index(s, "${")
					if i < 0 {
						b.WriteString(s)
						break
					}
					j := strings.Index(s[i:], "}")
					if j < 0 {
						b.WriteString(s)
						break
					}
					b.WriteString(s[:i])
					name := s[i+2 : i+j]
					if val, ok := vars[name]; ok {
						b.WriteString(flatten(val, env))
					} else {
						b.WriteString(ref(name, env))
					}
					s = s[i+j+1:]
				}
				return b.String()
			}
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func ref(name string, env Env) string {
	switch name {
	case "AWS::Partition":
		return env.Partition
	case "AWS::AccountId":
		return env.Account
	case "AWS::Region":
		return env.Region
	case "AWS::URLSuffix":
		return "amazonaws.com"
	}
	if v, ok := env.Refs[name]; ok {
		return v
	}
	return "${" + name + "}"
}

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
