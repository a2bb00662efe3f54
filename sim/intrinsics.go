package sim

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

// evaluator resolves the intrinsic functions the simulator needs (Ref,
// Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select) in one stack, within bounds.
// Anything it cannot resolve becomes "${?…}" and the value is marked
// unknown.
type evaluator struct {
	s     *Stack
	steps int
}

func newEvaluator(s *Stack) *evaluator { return &evaluator{s: s} }

// str evaluates v to a string; ok is false when part of it is unknown.
func (e *evaluator) str(v any) (string, bool) {
	e.steps = 0
	var b strings.Builder
	ok := e.eval(v, 0, &b)
	if b.Len() > maxEvalBytes {
		return b.String()[:maxEvalBytes], false
	}
	return b.String(), ok
}

func (e *evaluator) eval(v any, depth int, b *strings.Builder) bool {
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

func (e *evaluator) ref(name string, depth int, b *strings.Builder) bool {
	switch name {
	case "AWS::Region":
		b.WriteString(e.s.Region)
		return e.s.Region != ""
	case "AWS::AccountId":
		b.WriteString(e.s.Account)
		return e.s.Account != ""
	case "AWS::Partition":
		b.WriteString("aws")
		return true
	case "AWS::URLSuffix":
		b.WriteString("amazonaws.com")
		return true
	case "AWS::StackName":
		b.WriteString(e.s.Name)
		return true
	case "AWS::NoValue":
		return true
	}
	t := e.s.Template
	if p, ok := t.Parameters[name].(map[string]any); ok {
		if d, ok := p["Default"]; ok {
			return e.eval(d, depth+1, b)
		}
		b.WriteString("${?" + name + "}")
		return false
	}
	r, ok := t.Resources[name]
	if !ok {
		b.WriteString("${?" + name + "}")
		return false
	}
	// Ref of a resource is its physical name for the types the simulator
	// reads (alarm, CodeDeploy application, deployment group and config,
	// Lambda function): the name property when set, else the name
	// CloudFormation generates, modelled as "<stack>-<logical ID>".
	if prop := nameProperty(r.Type); prop != "" {
		if v, ok := r.Properties[prop]; ok {
			return e.eval(v, depth+1, b)
		}
	}
	b.WriteString(e.s.Name + "-" + name)
	return true
}

func (e *evaluator) getAtt(id, att string, depth int, b *strings.Builder) bool {
	r, ok := e.s.Template.Resources[id]
	if !ok {
		b.WriteString("${?" + id + "." + att + "}")
		return false
	}
	switch {
	case att == "Arn" && (r.Type == "AWS::CloudWatch::Alarm" || r.Type == "AWS::CloudWatch::CompositeAlarm"):
		fmt.Fprintf(b, "arn:aws:cloudwatch:%s:%s:alarm:", e.s.Region, e.s.Account)
		return e.ref(id, depth+1, b)
	case att == "Version" && r.Type == "AWS::Lambda::Version":
		b.WriteString("${version:" + id + "}")
		return true
	}
	b.WriteString("${" + id + "." + att + "}")
	return true
}

func (e *evaluator) sub(arg any, depth int, b *strings.Builder) bool {
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

// nameProperty is the property that names a resource of a type, for the
// types whose names the simulator resolves or checks for uniqueness.
func nameProperty(typ string) string {
	return namedTypes[typ].prop
}

// nameScope says where a resource name must be unique.
type nameScope int

const (
	scopeRegion  nameScope = iota // per account and region
	scopeAccount                  // per account (IAM)
	scopeGlobal                   // across every account (S3 buckets)
)

// namedTypes are the resource types whose custom names the simulator
// resolves and checks. "Resource names must be unique across all of your
// active stacks. If you reuse templates to create multiple stacks, you
// must change or remove custom names from your template."
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html);
// alarm names: "This name must be unique within the Region."
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
var namedTypes = map[string]struct {
	prop  string
	scope nameScope
}{
	"AWS::CloudWatch::Alarm":            {"AlarmName", scopeRegion},
	"AWS::CloudWatch::CompositeAlarm":   {"AlarmName", scopeRegion},
	"AWS::Lambda::Function":             {"FunctionName", scopeRegion},
	"AWS::Logs::LogGroup":               {"LogGroupName", scopeRegion},
	"AWS::CodeDeploy::Application":      {"ApplicationName", scopeRegion},
	"AWS::CodeDeploy::DeploymentConfig": {"DeploymentConfigName", scopeRegion},
	"AWS::CodeDeploy::DeploymentGroup":  {"DeploymentGroupName", scopeRegion},
	"AWS::ECS::Cluster":                 {"ClusterName", scopeRegion},
	"AWS::SSM::Parameter":               {"Name", scopeRegion},
	"AWS::SNS::Topic":                   {"TopicName", scopeRegion},
	"AWS::SQS::Queue":                   {"QueueName", scopeRegion},
	"AWS::DynamoDB::Table":              {"TableName", scopeRegion},
	"AWS::Synthetics::Canary":           {"Name", scopeRegion},
	"AWS::IAM::Role":                    {"RoleName", scopeAccount},
	"AWS::IAM::ManagedPolicy":           {"ManagedPolicyName", scopeAccount},
	"AWS::S3::Bucket":                   {"BucketName", scopeGlobal},
}
