package deploy

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/internal/gobuild"
)

// GoCodeProps configure GoCode.
type GoCodeProps struct {
	// Arch is the GOARCH to build for; it must match the function's
	// architecture. Default: "arm64".
	Arch string
}

// GoCode returns Lambda code for the Go main package in dir, compiled during
// synth by the local Go toolchain (GOOS=linux, CGO_ENABLED=0, -trimpath,
// tag lambda.norpc) into a "bootstrap" executable for the provided.al2023
// runtime. No Docker is needed. The asset hash is the hash of dir's sources,
// so the same sources give the same asset (and an unchanged function
// version) on every synth; a change in a dependency outside dir does not
// change the hash — bump a file in dir to force a new version.
func GoCode(dir string, props *GoCodeProps) awslambda.Code {
	arch := "arm64"
	if props != nil && props.Arch != "" {
		arch = props.Arch
	}
	return awslambda.Code_FromAsset(jsii.String(dir), &awss3assets.AssetOptions{
		AssetHashType: awscdk.AssetHashType_SOURCE,
		Bundling: &awscdk.BundlingOptions{
			// Used only if the local build fails, to say so clearly.
			Image: awscdk.DockerImage_FromRegistry(jsii.String("public.ecr.aws/docker/library/golang:1")),
			Local: &goBuild{dir: dir, arch: arch},
		},
	})
}

// goBuild is the local bundler: it runs "go build" into the asset's output
// directory.
type goBuild struct {
	dir, arch string
}

// TryBundle implements awscdk.ILocalBundling.
func (g *goBuild) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	abs, err := filepath.Abs(g.dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "safepipe: go build %s: %v\n", g.dir, err)
		return jsii.Bool(false)
	}
	exe, err := gobuild.Build(gobuild.Spec{Dir: abs, Package: ".", Arch: g.arch, LDFlags: "-s -w"})
	if err == nil {
		err = os.WriteFile(filepath.Join(*outputDir, "bootstrap"), exe, 0o755)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "safepipe: go build %s for linux/%s failed: %v\n", abs, g.arch, err)
		return jsii.Bool(false)
	}
	return jsii.Bool(true)
}
