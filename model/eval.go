package model

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Bounds of intrinsic-function expansion: a template can nest Fn::Join,
// Fn::Sub and Ref arbitrarily (and Refs can chain through resource
// names), so evaluation is cut off by depth, work and output size.
const (
	maxEvalDepth = 32
	maxEvalSteps = 10000
	maxEvalBytes = 64 << 10
)

// Scope is what an Evaluator resolves names in: one stack.
type Scope struct {
	// StackName, Account, Region and Partition are the stack's pseudo
	// parameters ("" when unknown; the partition defaults to "aws").
	StackName, Account, Region, Partition string
	// Parameters and Conditions are the template's sections of those
	// names, as read.
	Parameters, Conditions map[string]any
	// Resource returns a resource of the template by logical ID.
	Resource func(id string) (typ string, properties map[string]any, ok bool)
}

// Evaluator resolves the intrinsic functions a reader of pipelines needs
// — Ref (pseudo parameters, parameters by their Default, resources by
// their name property), Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select and
// Fn::If on the template's Conditions (Fn::Equals, Fn::Not, Fn::And,
// Fn::Or, Condition, evaluated with the parameters' defaults) — in one
// stack, within bounds of depth, work and output. Anything it cannot
// resolve becomes "${?…}" and the value is marked unknown: the one
// evaluator of verify and the simulator.
type Evaluator struct {
	s     Scope
	steps int
}

// NewEvaluator returns an evaluator of the scope.
func NewEvaluator(s Scope) *Evaluator {
	if s.Partition == "" {
		s.Partition = "aws"
	}
	if s.Resource == nil {
		s.Resource = func(string) (string, map[string]any, bool) { return "", nil, false }
	}
	return &Evaluator{s: s}
}

// Scope returns the scope the evaluator resolves names in.
func (e *Evaluator) Scope() Scope { return e.s }

// Str evaluates v to a string; ok is false when part of it is unknown.
func (e *Evaluator) Str(v any) (string, bool) {
	e.steps = 0
	var b strings.Builder
	ok := e.eval(v, 0, &b)
	if b.Len() > maxEvalBytes {
		return b.String()[:maxEvalBytes], false
	}
	return b.String(), ok
}

func (e *Evaluator) eval(v any, depth int, b *strings.Builder) bool {
	e.steps++
	if depth > maxEvalDepth || e.steps > maxEvalSteps || b.Len() > maxEvalBytes {
		b.WriteString("${?}")
		return false
	}
	switch x := v.(type) {
	case nil:
		return true
	case string:
		b.WriteString(x)
		return true
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
		return true
	case bool:
		b.WriteString(strconv.FormatBool(x))
		return true
	case map[string]any:
		if len(x) != 1 {
			b.WriteString("${?}")
			return false
		}
		for k, arg := range x {
			switch k {
			case "Ref":
				name, _ := arg.(string)
				return e.ref(name, depth, b)
			case "Fn::GetAtt":
				parts := getAttParts(arg)
				if parts == nil {
					b.WriteString("${?}")
					return false
				}
				return e.getAtt(parts[0], parts[1], depth, b)
			case "Fn::Join":
				l, _ := arg.([]any)
				if len(l) != 2 {
					b.WriteString("${?}")
					return false
				}
				sep, _ := l[0].(string)
				items, _ := l[1].([]any)
				ok := true
				for i, it := range items {
					if i > 0 {
						b.WriteString(sep)
					}
					ok = e.eval(it, depth+1, b) && ok
				}
				return ok
			case "Fn::Sub":
				return e.sub(arg, depth, b)
			case "Fn::If":
				l, _ := arg.([]any)
				name, _ := firstOf(l).(string)
				if len(l) != 3 || name == "" {
					b.WriteString("${?Fn::If}")
					return false
				}
				v, known := e.condition(name, depth+1)
				if !known {
					b.WriteString("${?Fn::If " + name + "}")
					return false
				}
				if v {
					return e.eval(l[1], depth+1, b)
				}
				return e.eval(l[2], depth+1, b)
			case "Fn::Select":
				l, _ := arg.([]any)
				if len(l) != 2 {
					b.WriteString("${?}")
					return false
				}
				var ib strings.Builder
				e.eval(l[0], depth+1, &ib)
				i, err := strconv.Atoi(ib.String())
				items, _ := l[1].([]any)
				if err != nil || i < 0 || i >= len(items) {
					b.WriteString("${?}")
					return false
				}
				return e.eval(items[i], depth+1, b)
			}
			b.WriteString("${?" + k + "}")
			return false
		}
	}
	j, _ := json.Marshal(v)
	b.Write(j)
	return false
}

func getAttParts(arg any) []string {
	switch a := arg.(type) {
	case []any:
		if len(a) == 2 {
			id, _ := a[0].(string)
			att, _ := a[1].(string)
			if id != "" && att != "" {
				return []string{id, att}
			}
		}
	case string:
		if id, att, ok := strings.Cut(a, "."); ok {
			return []string{id, att}
		}
	}
	return nil
}

func (e *Evaluator) ref(name string, depth int, b *strings.Builder) bool {
	switch name {
	case "AWS::Region":
		b.WriteString(e.s.Region)
		return e.s.Region != ""
	case "AWS::AccountId":
		b.WriteString(e.s.Account)
		return e.s.Account != ""
	case "AWS::Partition":
		b.WriteString(e.s.Partition)
		return true
	case "AWS::URLSuffix":
		b.WriteString("amazonaws.com")
		return true
	case "AWS::StackName":
		b.WriteString(e.s.StackName)
		return e.s.StackName != ""
	case "AWS::NoValue":
		return true
	}
	if p, ok := e.s.Parameters[name].(map[string]any); ok {
		if d, ok := p["Default"]; ok {
			return e.eval(d, depth+1, b)
		}
		b.WriteString("${?" + name + "}")
		return false
	}
	typ, props, ok := e.s.Resource(name)
	if !ok {
		b.WriteString("${?" + name + "}")
		return false
	}
	// Ref of a resource is its physical name for the types the readers
	// use (alarm, CodeDeploy application, deployment group and config,
	// Lambda function): the name property when set, else the name
	// CloudFormation generates, modelled as "<stack>-<logical ID>".
	if prop := NameProperty(typ); prop != "" {
		if v, ok := props[prop]; ok {
			return e.eval(v, depth+1, b)
		}
	}
	b.WriteString(e.s.StackName + "-" + name)
	return true
}

// condition evaluates one of the template's Conditions with the
// parameters' defaults; known is false when it cannot be told.
func (e *Evaluator) condition(name string, depth int) (value, known bool) {
	c, ok := e.s.Conditions[name]
	if !ok {
		return false, false
	}
	return e.boolean(c, depth+1)
}

// boolean evaluates a condition function.
func (e *Evaluator) boolean(v any, depth int) (value, known bool) {
	e.steps++
	if depth > maxEvalDepth || e.steps > maxEvalSteps {
		return false, false
	}
	m, _ := v.(map[string]any)
	if len(m) != 1 {
		return false, false
	}
	for k, arg := range m {
		l, _ := arg.([]any)
		switch k {
		case "Condition":
			name, _ := arg.(string)
			return e.condition(name, depth)
		case "Fn::Equals":
			if len(l) != 2 {
				return false, false
			}
			var a, b strings.Builder
			okA := e.eval(l[0], depth+1, &a)
			okB := e.eval(l[1], depth+1, &b)
			return a.String() == b.String(), okA && okB
		case "Fn::Not":
			if len(l) != 1 {
				return false, false
			}
			x, ok := e.boolean(l[0], depth+1)
			return !x, ok
		case "Fn::And", "Fn::Or":
			if len(l) < 2 || len(l) > 10 {
				return false, false
			}
			and := k == "Fn::And"
			for _, c := range l {
				x, ok := e.boolean(c, depth+1)
				if !ok {
					return false, false
				}
				if x != and {
					return x, true
				}
			}
			return and, true
		}
	}
	return false, false
}

func firstOf(l []any) any {
	if len(l) == 0 {
		return nil
	}
	return l[0]
}

func (e *Evaluator) getAtt(id, att string, depth int, b *strings.Builder) bool {
	typ, _, ok := e.s.Resource(id)
	if !ok {
		b.WriteString("${?" + id + "." + att + "}")
		return false
	}
	switch {
	case att == "Arn" && (typ == "AWS::CloudWatch::Alarm" || typ == "AWS::CloudWatch::CompositeAlarm"):
		fmt.Fprintf(b, "arn:%s:cloudwatch:%s:%s:alarm:", e.s.Partition, e.s.Region, e.s.Account)
		return e.ref(id, depth+1, b)
	case att == "Version" && typ == "AWS::Lambda::Version":
		b.WriteString("${version:" + id + "}")
		return true
	}
	b.WriteString("${" + id + "." + att + "}")
	return true
}

func (e *Evaluator) sub(arg any, depth int, b *strings.Builder) bool {
	var tmpl string
	vars := map[string]any{}
	switch a := arg.(type) {
	case string:
		tmpl = a
	case []any:
		if len(a) != 2 {
			b.WriteString("${?}")
			return false
		}
		tmpl, _ = a[0].(string)
		vars, _ = a[1].(map[string]any)
	default:
		b.WriteString("${?}")
		return false
	}
	ok := true
	for {
		i := strings.Index(tmpl, "${")
		if i < 0 {
			b.WriteString(tmpl)
			return ok
		}
		b.WriteString(tmpl[:i])
		rest := tmpl[i+2:]
		if strings.HasPrefix(rest, "!") { // "${!Literal}" is a literal "${Literal}"
			b.WriteString("${")
			tmpl = rest[1:]
			continue
		}
		j := strings.Index(rest, "}")
		if j < 0 {
			b.WriteString(tmpl[i:])
			return false
		}
		name := rest[:j]
		tmpl = rest[j+1:]
		if v, found := vars[name]; found {
			ok = e.eval(v, depth+1, b) && ok
		} else if id, att, dotted := strings.Cut(name, "."); dotted {
			ok = e.getAtt(id, att, depth+1, b) && ok
		} else {
			ok = e.ref(name, depth+1, b) && ok
		}
		if b.Len() > maxEvalBytes || depth > maxEvalDepth {
			return false
		}
	}
}

// NameProperty is the property that names a resource of a type, for the
// types whose names the readers resolve or check for uniqueness ("" for
// another type).
func NameProperty(typ string) string {
	return NamedTypes[typ].Prop
}

// NameScope says where a resource name must be unique.
type NameScope int

// The scopes.
const (
	ScopeRegion  NameScope = iota // per account and region
	ScopeAccount                  // per account (IAM)
	ScopeGlobal                   // across every account (S3 buckets)
)

// NamedType is how a resource type is named.
type NamedType struct {
	// Prop is the property that names it.
	Prop string
	// Scope is where the name must be unique.
	Scope NameScope
}

// NamedTypes are the resource types whose custom names the readers
// resolves and checks. "Resource names must be unique across all of your
// active stacks. If you reuse templates to create multiple stacks, you
// must change or remove custom names from your template."
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html);
// alarm names: "This name must be unique within the Region."
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
var NamedTypes = map[string]NamedType{
	"AWS::CloudWatch::Alarm":            {"AlarmName", ScopeRegion},
	"AWS::CloudWatch::CompositeAlarm":   {"AlarmName", ScopeRegion},
	"AWS::Lambda::Function":             {"FunctionName", ScopeRegion},
	"AWS::Logs::LogGroup":               {"LogGroupName", ScopeRegion},
	"AWS::CodeDeploy::Application":      {"ApplicationName", ScopeRegion},
	"AWS::CodeDeploy::DeploymentConfig": {"DeploymentConfigName", ScopeRegion},
	"AWS::CodeDeploy::DeploymentGroup":  {"DeploymentGroupName", ScopeRegion},
	"AWS::ECS::Cluster":                 {"ClusterName", ScopeRegion},
	"AWS::SSM::Parameter":               {"Name", ScopeRegion},
	"AWS::SNS::Topic":                   {"TopicName", ScopeRegion},
	"AWS::SQS::Queue":                   {"QueueName", ScopeRegion},
	"AWS::DynamoDB::Table":              {"TableName", ScopeRegion},
	"AWS::Synthetics::Canary":           {"Name", ScopeRegion},
	"AWS::IAM::Role":                    {"RoleName", ScopeAccount},
	"AWS::IAM::ManagedPolicy":           {"ManagedPolicyName", ScopeAccount},
	"AWS::S3::Bucket":                   {"BucketName", ScopeGlobal},
}

// Select returns v with every Fn::If replaced by the branch its condition
// takes with the parameters' defaults, recursively, and every
// {"Ref": "AWS::NoValue"} dropped from the objects and lists that hold it
// ("Removes the corresponding resource property when specified as a
// return value in the Fn::If intrinsic function", pseudo-parameter
// reference). A condition it cannot tell is an error naming it. v is not
// modified.
func (e *Evaluator) Select(v any) (any, error) {
	e.steps = 0
	return e.sel(v, 0)
}

func isNoValue(v any) bool {
	m, _ := v.(map[string]any)
	r, _ := m["Ref"].(string)
	return len(m) == 1 && r == "AWS::NoValue"
}

func (e *Evaluator) sel(v any, depth int) (any, error) {
	e.steps++
	if depth > 256 || e.steps > 1_000_000 {
		return nil, fmt.Errorf("a value nests deeper, or holds more, than the reader follows")
	}
	switch x := v.(type) {
	case map[string]any:
		if l, ok := x["Fn::If"].([]any); ok && len(x) == 1 {
			name, _ := firstOf(l).(string)
			if len(l) != 3 || name == "" {
				return nil, fmt.Errorf("Fn::If takes a condition name and two values")
			}
			c, known := e.condition(name, 0)
			if !known {
				return nil, fmt.Errorf("condition %s cannot be told from the parameters' defaults", Escape(name))
			}
			if c {
				return e.sel(l[1], depth+1)
			}
			return e.sel(l[2], depth+1)
		}
		out := make(map[string]any, len(x))
		for k, el := range x {
			r, err := e.sel(el, depth+1)
			if err != nil {
				return nil, err
			}
			if !isNoValue(r) {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, el := range x {
			r, err := e.sel(el, depth+1)
			if err != nil {
				return nil, err
			}
			if !isNoValue(r) {
				out = append(out, r)
			}
		}
		return out, nil
	}
	return v, nil
}

// Created reports whether a resource with the Condition attribute cond
// ("" for none) is created with the parameters' defaults; known is false
// when the condition cannot be told.
func (e *Evaluator) Created(cond string) (created, known bool) {
	if cond == "" {
		return true, true
	}
	e.steps = 0
	return e.condition(cond, 0)
}
