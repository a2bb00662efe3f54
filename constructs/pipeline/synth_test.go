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
	} {
		t.Run(tc.name, func(t *testing.T) { checkTree(t, CheckAnnotations, tc.files, tc.want) })
	}
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
