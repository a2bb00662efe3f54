// Package synth holds what safepipe's constructs and their tests share
// about synthesis: reporting a user's mistakes as synth errors, and one
// jsii process per test binary.
package synth

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/cdktest"
)

// Report adds err as synth errors on c: one error per problem when err
// joins several (errors.Join), so `cdk synth` lists each on its own line.
// A nil err adds nothing.
func Report(c constructs.IConstruct, err error) {
	for _, e := range Flatten(err) {
		awscdk.Annotations_Of(c).AddError(jsii.String(e.Error()))
	}
}

// Flatten returns the problems joined in err, depth first; nil for nil.
func Flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// TestMain runs a test binary's tests in one jsii process, quiet about
// Node's end of life, and closes it before exiting:
//
//	func TestMain(m *testing.M) { synth.TestMain(m) }
func TestMain(m *testing.M) { cdktest.Main(m) }

// NagSuppress records a cdk-nag suppression on c's CloudFormation resource
// (c itself, or its default child) as the metadata cdk-nag reads
// ("cdk_nag": {"rules_to_suppress": [{id, reason}]}), so that safepipe's
// own resources carry their reasons without safepipe depending on cdk-nag,
// whatever the stack is called.
func NagSuppress(c constructs.IConstruct, rule, reason string) {
	res, ok := c.(awscdk.CfnResource)
	if !ok {
		if res, ok = c.Node().DefaultChild().(awscdk.CfnResource); !ok {
			return
		}
	}
	entry := map[string]any{"id": rule, "reason": reason}
	var existing []any
	if m, ok := res.GetMetadata(jsii.String("cdk_nag")).(map[string]any); ok {
		if rs, ok := m["rules_to_suppress"].([]any); ok {
			existing = rs
		}
	}
	res.AddMetadata(jsii.String("cdk_nag"), map[string]any{"rules_to_suppress": append(existing, entry)})
}
