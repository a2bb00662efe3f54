package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// scopeOf is a scope over a map of resources (type, properties).
func scopeOf(name, account, region string, params, conds map[string]any, res map[string][2]any) Scope {
	return Scope{StackName: name, Account: account, Region: region, Parameters: params, Conditions: conds,
		Resource: func(id string) (string, map[string]any, bool) {
			r, ok := res[id]
			if !ok {
				return "", nil, false
			}
			props, _ := r[1].(map[string]any)
			return r[0].(string), props, true
		}}
}

func TestIntrinsicsAreBounded(t *testing.T) {
	e := NewEvaluator(scopeOf("st", "1", "r", nil, nil, map[string][2]any{
		"A": {"AWS::CloudWatch::Alarm", map[string]any{"AlarmName": map[string]any{"Ref": "B"}}},
		"B": {"AWS::CloudWatch::Alarm", map[string]any{"AlarmName": map[string]any{"Ref": "A"}}},
		"C": {"AWS::CloudWatch::Alarm", map[string]any{"AlarmName": map[string]any{"Fn::Sub": "${AWS::StackName}-${AWS::Region}-x"}}},
	}))
	_, ok := e.Str(map[string]any{"Ref": "A"})
	assert.False(t, ok, "a Ref cycle is cut off, not followed forever")
	v, ok := e.Str(map[string]any{"Fn::GetAtt": []any{"C", "Arn"}})
	assert.True(t, ok)
	assert.Equal(t, "arn:aws:cloudwatch:r:1:alarm:st-r-x", v)
	var join any = "x"
	for i := 0; i < 20; i++ {
		join = map[string]any{"Fn::Join": []any{"", []any{join, join}}}
	}
	v, ok = e.Str(join)
	assert.False(t, ok, "exponential expansion is cut off")
	assert.LessOrEqual(t, len(v), maxEvalBytes)
}

// TestParametersAndConditions: a Ref to a parameter is its Default; Fn::If
// takes the branch its condition gives with the defaults; a condition that
// cannot be told leaves the value unknown.
func TestParametersAndConditions(t *testing.T) {
	params := map[string]any{
		"Env":     map[string]any{"Type": "String", "Default": "prod"},
		"NoValue": map[string]any{"Type": "String"},
	}
	conds := map[string]any{
		"IsProd":    map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Env"}, "prod"}},
		"NotProd":   map[string]any{"Fn::Not": []any{map[string]any{"Condition": "IsProd"}}},
		"Both":      map[string]any{"Fn::And": []any{map[string]any{"Condition": "IsProd"}, map[string]any{"Fn::Equals": []any{"a", "a"}}}},
		"Either":    map[string]any{"Fn::Or": []any{map[string]any{"Condition": "NotProd"}, map[string]any{"Fn::Equals": []any{"a", "b"}}}},
		"Unknown":   map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "NoValue"}, "x"}},
		"Recursive": map[string]any{"Condition": "Recursive"},
	}
	e := NewEvaluator(scopeOf("st", "1", "r", params, conds, nil))
	iff := func(c string) any { return map[string]any{"Fn::If": []any{c, "yes", "no"}} }
	for c, want := range map[string]string{"IsProd": "yes", "NotProd": "no", "Both": "yes", "Either": "no"} {
		v, ok := e.Str(iff(c))
		assert.True(t, ok, c)
		assert.Equal(t, want, v, c)
	}
	for _, c := range []string{"Unknown", "Recursive", "Missing"} {
		_, ok := e.Str(iff(c))
		assert.False(t, ok, c)
	}
	v, ok := e.Str(map[string]any{"Fn::Sub": "${Env}-${AWS::Partition}"})
	assert.True(t, ok)
	assert.Equal(t, "prod-aws", v)
	_, ok = e.Str(map[string]any{"Ref": "NoValue"})
	assert.False(t, ok, "a parameter without a default is unknown")
}

// TestSelect: Fn::If around stages and properties takes the branch of its
// condition with the parameters' defaults; AWS::NoValue drops what holds it.
func TestSelect(t *testing.T) {
	params := map[string]any{"WithTest": map[string]any{"Type": "String", "Default": "yes"}}
	conds := map[string]any{"Test": map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "WithTest"}, "yes"}}}
	e := NewEvaluator(scopeOf("s", "1", "r", params, conds, nil))
	v, err := e.Select(map[string]any{
		"PipelineType": map[string]any{"Fn::If": []any{"Test", "V2", "V1"}},
		"Stages": []any{
			map[string]any{"Name": "Source"},
			map[string]any{"Fn::If": []any{"Test", map[string]any{"Name": "Test"}, map[string]any{"Ref": "AWS::NoValue"}}},
			map[string]any{"Fn::If": []any{"Test", map[string]any{"Ref": "AWS::NoValue"}, map[string]any{"Name": "Skipped"}}},
		},
	})
	assert.NoError(t, err)
	assert.Equal(t, map[string]any{"PipelineType": "V2", "Stages": []any{map[string]any{"Name": "Source"}, map[string]any{"Name": "Test"}}}, v)
	_, err = e.Select(map[string]any{"Fn::If": []any{"Nope", 1, 2}})
	assert.ErrorContains(t, err, "condition Nope cannot be told")
	created, known := e.Created("Test")
	assert.True(t, created && known)
}
