package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
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
			asm, err = nil, fmt.Errorf("synth: %v", r)
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
func CheckAnnotations(dir string) error {
	return eachFile(dir, func(name string) bool { return name == "manifest.json" }, checkManifest)
}

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
				msgs = append(msgs, at+": "+text)
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
