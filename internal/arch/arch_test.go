package arch

import (
	"os/exec"
	"strings"
	"testing"
)

// corePackages must never depend on jsii, the CDK, constructs or the AWS
// SDK (the gate controller's AWS adapter lives in cmd/safepipe-gates).
var corePackages = []string{"waves", "gray", "gray/propagate", "model", "verify", "sim", "gates", "twophase"}

var forbidden = []string{
	"github.com/aws/jsii-runtime-go",
	"github.com/aws/aws-cdk-go",
	"github.com/aws/constructs-go",
	"github.com/cdklabs/",
	"github.com/aws/aws-sdk-go-v2",
	"github.com/aws/aws-lambda-go",
}

func TestCorePackagesArePureGo(t *testing.T) {
	for _, pkg := range corePackages {
		path := "github.com/safepipe/safepipe/" + pkg
		out, err := exec.Command("go", "list", "-deps", "-test", path).CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "cannot find package") || strings.Contains(string(out), "matched no packages") || strings.Contains(string(out), "is not in std") || strings.Contains(string(out), "no required module provides") {
				t.Logf("%s does not exist yet", pkg)
				continue
			}
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("core package %s depends on %s; the core must stay pure Go (render CDK in alarms/ or constructs/)", pkg, dep)
				}
			}
		}
	}
}

// readers are the packages that read untrusted input (assemblies,
// templates, policies, rule files from pull requests and other teams):
// nothing they read may be executed. They may not start a process or load
// code, even through a dependency, nor reach the system call interface
// themselves.
var readers = []string{"waves", "gray", "gray/propagate", "model", "verify", "sim", "gates", "twophase", "cmd/safepipe", "internal/strict", "internal/strictjson", "internal/termsafe"}

func TestReadersExecuteNothing(t *testing.T) {
	for _, pkg := range readers {
		path := "github.com/safepipe/safepipe/" + pkg
		deps, err := exec.Command("go", "list", "-deps", path).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, deps)
		}
		for _, dep := range strings.Fields(string(deps)) {
			if dep == "os/exec" || dep == "plugin" {
				t.Errorf("%s depends on %s: a package that reads untrusted input must not be able to start a process or load code", pkg, dep)
			}
		}
		imports, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, path).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, imports)
		}
		for _, imp := range strings.Fields(string(imports)) {
			if imp == "syscall" || imp == "unsafe" || strings.HasPrefix(imp, "golang.org/x/sys") {
				t.Errorf("%s imports %s directly: the readers use the os package, whose reads stay inside an os.Root", pkg, imp)
			}
		}
	}
}

// TestOneReaderOfEachFormat: the simulator and verify read templates
// through package model — its strict JSON decoder, its one evaluator of
// intrinsic functions, its one cron reader, its range checks — and keep no
// reader of their own (they had two of each, which read one pipeline two
// ways).
func TestOneReaderOfEachFormat(t *testing.T) {
	for _, pkg := range []string{"sim", "verify"} {
		path := "github.com/safepipe/safepipe/" + pkg
		out, err := exec.Command("go", "list", "-f", `{{join .GoFiles " "}}|{{join .Imports " "}}`, path).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		files, imports, _ := strings.Cut(strings.TrimSpace(string(out)), "|")
		for _, f := range strings.Fields(files) {
			switch f {
			case "cron.go", "intrinsics.go", "json.go", "eval.go":
				t.Errorf("%s has %s: the reader of that format is package model's", pkg, f)
			}
		}
		if !strings.Contains(" "+imports+" ", " github.com/safepipe/safepipe/model ") {
			t.Errorf("%s does not read through package model", pkg)
		}
	}
}
