package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// template renders a template with n resources, outputs and parameters,
// padded to at least size bytes.
func template(resources, outputs, params, size int) string {
	section := func(n int) string {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(`"X%d":{}`, i)
		}
		return "{" + strings.Join(items, ",") + "}"
	}
	t := fmt.Sprintf(`{"Resources":%s,"Outputs":%s,"Parameters":%s,"Description":"`,
		section(resources), section(outputs), section(params))
	if pad := size - len(t) - 2; pad > 0 {
		t += strings.Repeat("x", pad)
	}
	return t + `"}`
}

func TestCheckTemplates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"within every quota", map[string]string{
			"A.template.json":                      template(500, 200, 200, MaxTemplateBytes),
			"assembly-P-Prod/P-Prod.template.json": template(1, 0, 0, 0),
			"manifest.json":                        strings.Repeat("x", 2*MaxTemplateBytes),
		}, nil},
		{"one byte too large, in a nested stage assembly", map[string]string{
			"assembly-P-Prod/P-Prod-Svc.template.json": template(1, 0, 0, MaxTemplateBytes+1),
		}, []string{"template assembly-P-Prod/P-Prod-Svc.template.json is 1000001 bytes; CloudFormation accepts at most 1000000"}},
		{"every count over, all reported", map[string]string{
			"A.template.json": template(501, 201, 201, 0),
		}, []string{"declares 501 resources", "declares 201 outputs", "declares 201 parameters"}},
		{"problems of two templates, both reported", map[string]string{
			"A.template.json": template(0, 201, 0, 0),
			"B.template.json": `{"Resources": [}`,
		}, []string{"template A.template.json declares 201 outputs", "template B.template.json: invalid character"}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkTree(t, CheckTemplates, tc.files, tc.want) })
	}
}

// A construct's validation error comes back from Synth as an error, not a
// panic.
func TestSynthReturnsValidationErrors(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("S"), nil)
	stack.Node().AddValidation(&validation{msg: "Team is required"})
	_, err := Synth(app)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Team is required")
}

type validation struct{ msg string }

func (v *validation) Validate() *[]*string { return &[]*string{jsii.String(v.msg)} }

func TestCheckAnnotations(t *testing.T) {
	manifest := func(artifact, path, kind, data string) string {
		return fmt.Sprintf(`{"version":"36.0.0","artifacts":{%q:{"type":"aws:cloudformation:stack","metadata":{%q:[{"type":%q,"data":%q}]}}}}`,
			artifact, path, kind, data)
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"warnings and info pass", map[string]string{
			"manifest.json": manifest("S", "/S/Fn", "aws:cdk:warning", "deprecated"),
		}, nil},
		{"an error in the top assembly", map[string]string{
			"manifest.json": manifest("S", "/S/Fn", "aws:cdk:error", "AwsSolutions-L1: not the latest runtime"),
		}, []string{"/S/Fn: AwsSolutions-L1: not the latest runtime"}},
		{"errors in two nested assemblies, both reported", map[string]string{
			"manifest.json":                 `{"version":"36.0.0","artifacts":{}}`,
			"assembly-P-Beta/manifest.json": manifest("P-Beta-Svc", "/P/Beta/Svc/Role", "aws:cdk:error", "first"),
			"assembly-P-Prod/manifest.json": manifest("P-Prod-Svc", "/P/Prod/Svc/Role", "aws:cdk:error", "second"),
		}, []string{"assembly-P-Beta/manifest.json: /P/Beta/Svc/Role: first", "assembly-P-Prod/manifest.json: /P/Prod/Svc/Role: second"}},
		{"an error in the metadata file a manifest names", map[string]string{
			"manifest.json":   `{"version":"54.0.0","artifacts":{"S":{"type":"aws:cloudformation:stack","additionalMetadataFile":"S.metadata.json"}}}`,
			"S.metadata.json": `{"/S":[{"type":"aws:cdk:creationStack","data":["x"]},{"type":"aws:cdk:error","data":"from the file","trace":["x"]}]}`,
		}, []string{"manifest.json: /S: from the file"}},
		{"a metadata file that is missing", map[string]string{
			"manifest.json": `{"version":"54.0.0","artifacts":{"S":{"type":"aws:cloudformation:stack","additionalMetadataFile":"S.metadata.json"}}}`,
		}, []string{"metadata file S.metadata.json"}},
		{"an unreadable manifest", map[string]string{
			"manifest.json": `{"artifacts": [}`,
		}, []string{"manifest.json: invalid character"}},
		{"cdk-nag findings alone are listed", map[string]string{
			"manifest.json":                 manifest("S", "/S/Role", "aws:cdk:error", "[AwsSolutions-IAM4] managed policy"),
			"assembly-P-Prod/manifest.json": manifest("P-Prod-Svc", "/P/Prod/Svc/Role", "aws:cdk:error", "AwsSolutions-IAM5: wildcard"),
		}, []string{"/S/Role: [AwsSolutions-IAM4] managed policy", "/P/Prod/Svc/Role: AwsSolutions-IAM5: wildcard"}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkTree(t, CheckAnnotations, tc.files, tc.want) })
	}
}

// TestCheckAnnotationsPutsTheErrorFirst: a construct's own error comes
// with the cdk-nag findings on the resources it left without their
// reasons; the findings are counted in one line, not listed over it.
func TestCheckAnnotationsPutsTheErrorFirst(t *testing.T) {
	files := map[string]string{
		"manifest.json": `{"version":"36.0.0","artifacts":{"S":{"type":"aws:cloudformation:stack","metadata":{` +
			`"/S/Pipeline":[{"type":"aws:cdk:error","data":"pipeline: Team \"X\" must be lower case"}],` +
			`"/S/Pipeline/Role":[{"type":"aws:cdk:error","data":"[AwsSolutions-IAM5] wildcard"}],` +
			`"/S/Pipeline/Bucket":[{"type":"aws:cdk:error","data":"[AwsSolutions-S1] no access logs"}]}}}}`,
		"assembly-P-Prod/manifest.json": `{"version":"36.0.0","artifacts":{"P":{"type":"aws:cloudformation:stack","metadata":{"/P/Svc/Role":[{"type":"aws:cdk:error","data":"NIST.800.53.R5-IAMNoInlinePolicy: inline"}]}}}}`,
	}
	dir := t.TempDir()
	for name, body := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	err := CheckAnnotations(dir)
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 2, err.Error())
	assert.Contains(t, lines[0], `pipeline: manifest.json: /S/Pipeline: Team "X" must be lower case`)
	assert.Contains(t, lines[1], "and 3 cdk-nag finding(s), not listed while the errors above stand")
}

// An error annotation (cdk-nag's unsuppressed findings are ones) fails
// Synth, as it fails `cdk synth`: a CDK app that calls pipeline.Synth must
// not exit 0 on an assembly the CLI would refuse.
func TestSynthReturnsErrorAnnotations(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("S"), nil)
	awscdk.Annotations_Of(stack).AddError(jsii.String("no alarm watches this stage"))
	_, err := Synth(app)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/S: no alarm watches this stage")
}

// checkTree writes files (path → content) under a new directory, runs
// check on it, and expects an error containing each of want (nil: none).
func checkTree(t *testing.T, check func(dir string) error, files map[string]string, want []string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
	}
	err := check(dir)
	if want == nil {
		assert.NoError(t, err)
		return
	}
	require.Error(t, err)
	for _, w := range want {
		assert.Contains(t, err.Error(), w)
	}
}

// TestSynthNamesTheDefaultConstruct: CDK's error for a resource whose path
// within its stack is only "Default" names no construct; Synth adds the
// path.
func TestSynthNamesTheDefaultConstruct(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("Svc"), nil)
	awscdk.NewCfnResource(stack, jsii.String("Default"), &awscdk.CfnResourceProps{Type: jsii.String("AWS::CloudFormation::WaitConditionHandle")})
	_, err := Synth(app)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Unable to calculate a unique id for an empty set of components")
	assert.Contains(t, err.Error(), `at Svc/Default: a resource whose path within its stack is only "Default" has no logical ID`)
}
