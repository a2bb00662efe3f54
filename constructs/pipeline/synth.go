package pipeline

import (
	"regexp"

	"encoding/json"
	"errors"
	"fmt"
	"github.com/safepipe/safepipe/internal/synth"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/constructs-go/constructs/v10"
)

// The CloudFormation quotas a synthesized template must fit, from
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html:
// "Template body size in an Amazon S3 object: Maximum size of a template
// body that you can pass in an Amazon S3 object ...: 1 MB" (CDK deploys
// every template through the bootstrap bucket, and CDK Pipelines through
// the artifact bucket, so the S3 quota is the one that applies);
// "Resources: ... 500 resources"; "Outputs: ... 200 outputs";
// "Parameters: ... 200 parameters". CDK itself refuses a stack of more than
// 500 resources; the others it writes without complaint and CloudFormation
// refuses at deployment, in the middle of a release.
const (
	MaxTemplateBytes  = 1_000_000
	MaxStackResources = 500
	MaxStackOutputs   = 200
	MaxStackParams    = 200
)

// Synth synthesizes app and checks every template of the cloud assembly,
// nested stage assemblies included, against CloudFormation's quotas
// (CheckTemplates), and fails on any error annotation, as the CDK CLI
// does (CheckAnnotations). A construct's validation error, which CDK raises as a
// panic out of App.Synth, is returned as an error instead. Use it in place
// of app.Synth(nil) in a CDK app's main:
//
//	if _, err := pipeline.Synth(app); err != nil {
//		fmt.Fprintln(os.Stderr, err)
//		os.Exit(1)
//	}
func Synth(app awscdk.App) (asm cxapi.CloudAssembly, err error) {
	defer func() {
		if r := recover(); r != nil {
			asm, err = nil, fmt.Errorf("synth: %v%s", r, whereUniqueID(app, fmt.Sprint(r)))
		}
	}()
	asm = app.Synth(nil)
	dir := *asm.Directory()
	return asm, errors.Join(CheckAnnotations(dir), CheckTemplates(dir))
}

// CheckAnnotations reports every error annotation ("aws:cdk:error"
// metadata, which Annotations.addError writes and cdk-nag uses for its
// unsuppressed findings) in the manifests of the cloud assembly under dir,
// nested stage assemblies included. The CDK CLI refuses such an assembly
// ("cdk synth" fails with "Found errors"); a CDK Go app that calls
// app.Synth itself would otherwise exit 0. Each error names the manifest,
// the construct path and the message.
//
// While other errors stand, cdk-nag's findings are counted, not listed: a
// construct that fails (a safepipe construct reporting bad props, say)
// stops before it records the cdk-nag reasons of the resources it made,
// so its failure comes with dozens of findings that vanish once it
// renders, and they would bury the one error that matters. Every finding
// is listed once no other error remains.
func CheckAnnotations(dir string) error {
	err := eachFile(dir, func(name string) bool { return name == "manifest.json" }, checkManifest)
	var nag, other []error
	for _, e := range synth.Flatten(err) {
		if nagFindingRE.MatchString(e.Error()) {
			nag = append(nag, e)
		} else {
			other = append(other, e)
		}
	}
	if len(nag) == 0 || len(other) == 0 {
		return err
	}
	return errors.Join(append(other, fmt.Errorf("pipeline: and %d cdk-nag finding(s), not listed while the errors above stand: a construct that fails leaves the resources it made without the cdk-nag reasons it records once it renders; fix the errors above, and synth lists every finding that remains", len(nag)))...)
}

// nagFindingRE matches an error annotation of a cdk-nag rule pack
// ("[AwsSolutions-IAM4] …", or "AwsSolutions-IAM4: …" without verbose),
// after the manifest and construct path checkManifest puts first.
var nagFindingRE = regexp.MustCompile(`: \[?(AwsSolutions|HIPAA\.Security|NIST\.800\.53\.R[45]|PCI\.DSS\.321|Serverless)-[A-Za-z0-9]+\b`)

// eachFile runs check on every file under dir whose base name is wanted,
// in path order (check gets the path and the path relative to dir), and
// joins their errors.
func eachFile(dir string, wanted func(name string) bool, check func(path, rel string) error) error {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && wanted(d.Name()) {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pipeline: reading cloud assembly %s: %w", dir, err)
	}
	sort.Strings(paths)
	var errs []error
	for _, path := range paths {
		rel, _ := filepath.Rel(dir, path)
		errs = append(errs, check(path, rel))
	}
	return errors.Join(errs...)
}

// metadata is a construct path's metadata entries, as a cloud assembly
// manifest holds them inline ("metadata") or, since manifest version 41 or
// so, in a file beside it ("additionalMetadataFile"); we read both.
type metadata map[string][]struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// checkManifest reports the error annotations of one manifest and of the
// metadata files it names, sorted by construct path; name is the manifest's
// path in messages.
func checkManifest(path, name string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("pipeline: manifest %s: %w", name, err)
	}
	var m struct {
		Artifacts map[string]struct {
			Metadata               metadata `json:"metadata"`
			AdditionalMetadataFile string   `json:"additionalMetadataFile"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("pipeline: manifest %s: %w", name, err)
	}
	var msgs []string
	var errs []error
	collect := func(md metadata) {
		for at, entries := range md {
			for _, e := range entries {
				if e.Type != "aws:cdk:error" {
					continue
				}
				var text string
				if json.Unmarshal(e.Data, &text) != nil {
					text = string(e.Data)
				}
				// A safepipe construct's own errors start "pipeline: ",
				// as the line does already.
				msgs = append(msgs, at+": "+strings.TrimPrefix(text, "pipeline: "))
			}
		}
	}
	for _, a := range m.Artifacts {
		collect(a.Metadata)
		if a.AdditionalMetadataFile == "" {
			continue
		}
		file := filepath.Join(filepath.Dir(path), filepath.Clean("/" + a.AdditionalMetadataFile)[1:])
		var md metadata
		data, err := os.ReadFile(file)
		if err == nil {
			err = json.Unmarshal(data, &md)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("pipeline: manifest %s: metadata file %s: %w", name, a.AdditionalMetadataFile, err))
			continue
		}
		collect(md)
	}
	sort.Strings(msgs)
	for _, msg := range msgs {
		errs = append(errs, fmt.Errorf("pipeline: %s: %s", name, msg))
	}
	return errors.Join(errs...)
}

// CheckTemplates reports every template under the cloud assembly directory
// dir (its *.template.json files, nested assemblies included) that
// CloudFormation would refuse: larger than MaxTemplateBytes, or declaring
// more than MaxStackResources resources, MaxStackOutputs outputs or
// MaxStackParams parameters. Each error names the template, its measure
// and the limit.
func CheckTemplates(dir string) error {
	return eachFile(dir, func(name string) bool { return strings.HasSuffix(name, ".template.json") }, checkTemplate)
}

// checkTemplate checks one template file, named name in messages.
func checkTemplate(path, name string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("pipeline: template %s: %w", name, err)
	}
	var errs []error
	if len(data) > MaxTemplateBytes {
		errs = append(errs, fmt.Errorf("pipeline: template %s is %d bytes; CloudFormation accepts at most %d: "+
			"split the stack, set SuppressTemplateIndentation on it, or make per-stage resources shared", name, len(data), MaxTemplateBytes))
	}
	var t struct {
		Resources  map[string]json.RawMessage
		Outputs    map[string]json.RawMessage
		Parameters map[string]json.RawMessage
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return errors.Join(append(errs, fmt.Errorf("pipeline: template %s: %w", name, err))...)
	}
	for _, c := range []struct {
		what  string
		n, at int
	}{
		{"resources", len(t.Resources), MaxStackResources},
		{"outputs", len(t.Outputs), MaxStackOutputs},
		{"parameters", len(t.Parameters), MaxStackParams},
	} {
		if c.n > c.at {
			errs = append(errs, fmt.Errorf("pipeline: template %s declares %d %s; CloudFormation allows %d per stack: split the stack", name, c.n, c.what, c.at))
		}
	}
	return errors.Join(errs...)
}

// whereUniqueID names the constructs behind CDK's "Unable to calculate a
// unique id for an empty set of components", which names none: a
// resource's logical ID is made from its path within its stack without
// the components named "Default" (CDK's Default child convention), so a
// resource whose path there is only "Default" has none.
func whereUniqueID(app awscdk.App, msg string) string {
	if !strings.Contains(msg, "Unable to calculate a unique id for an empty set of components") {
		return ""
	}
	var paths []string
	for _, c := range *app.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if !*awscdk.CfnElement_IsCfnElement(c) {
			continue
		}
		stack := awscdk.Stack_Of(c)
		rel := strings.TrimPrefix(*c.Node().Path(), *stack.Node().Path()+"/")
		only := true
		for _, part := range strings.Split(rel, "/") {
			only = only && part == "Default"
		}
		if only {
			paths = append(paths, *c.Node().Path())
		}
	}
	if len(paths) == 0 {
		return ""
	}
	sort.Strings(paths)
	return fmt.Sprintf(" (at %s: a resource whose path within its stack is only \"Default\" has no logical ID; give it, or the construct above it, another id)", strings.Join(paths, ", "))
}
