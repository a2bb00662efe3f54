package main

import (
	"bytes"
	"embed"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"text/template"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/safepipe/safepipe/internal/names"
	"github.com/safepipe/safepipe/waves"
)

// skeleton is the team repository safepipe init writes: text/template
// files, named as written with ".tmpl" added ("gitignore" is .gitignore,
// "pipelines/team" the team's directory).
//
//go:embed skeleton
var skeleton embed.FS

// The versions a written repository pins: the CDK CLI this module is
// tested with (package.json; TestInitPinsWhatTheProjectPins checks them)
// and the Go language version of go.mod.
const (
	cdkCLIVersion = "2.1148.1"
	goVersion     = "1.26"
)

// initValues fill the skeleton.
type initValues struct {
	Module, Team, Repo, StackName                        string
	TimeZone                                             string
	Holidays                                             []string
	ToolchainAccount, ToolchainRegion                    string
	PreProdAccount, ProdAccount, ConnectionArn           string
	UpDownRegion                                         string
	SafepipeVersion, SafepipePath, GoVersion, CDKVersion string
}

const initSynopsis = "safepipe init [--team NAME] [--module PATH] [--repo OWNER/NAME] [--shape lambda] [--time-zone TZ] [--holidays DATES]\n" +
	"                     [--toolchain-account ID] [--toolchain-region REGION] [--preprod-account ID] [--prod-account ID]\n" +
	"                     [--connection-arn ARN] [--updown-region REGION] [--safepipe-version V | --safepipe-path DIR] DIR"

// runInit writes a team repository into DIR: an organisation base, a
// service and its pipeline, with tests (snapshot, verifytest, simtest). It
// writes files only: it runs no tool (go mod tidy and npm install are the
// user's next steps, printed), and refuses a DIR that is not empty.
func runInit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	team := fs.String("team", "", "the team's `NAME` (lower case letters, digits, dashes; names its alarms); default: DIR's name")
	mod := fs.String("module", "", "the repository's Go module `PATH`; default: example.com/TEAM")
	repo := fs.String("repo", "", "the source repository, `OWNER/NAME`; default: example-org/TEAM")
	shape := fs.String("shape", "lambda", "the service: lambda (a Go Lambda function, a one-box then the region)")
	tz := fs.String("time-zone", "UTC", "the deployment window's IANA time `ZONE`")
	holidays := fs.String("holidays", "", "no-deploy `DATES`, YYYY-MM-DD, comma-separated")
	toolAcct := fs.String("toolchain-account", "111111111111", "the pipeline's account `ID` (a placeholder by default)")
	toolRegion := fs.String("toolchain-region", "us-west-2", "the pipeline's `REGION`")
	preAcct := fs.String("preprod-account", "222222222222", "the pre-production account `ID` (a placeholder by default)")
	prodAcct := fs.String("prod-account", "333333333333", "the production account `ID` (a placeholder by default)")
	conn := fs.String("connection-arn", "", "the CodeConnections connection `ARN` to the source host; default: a placeholder in the toolchain account")
	updown := fs.String("updown-region", "us-east-2", "the `REGION` of the upgrade-downgrade test")
	version := fs.String("safepipe-version", "", "the safepipe module `VERSION` to require; default: this binary's, when it is a release")
	local := fs.String("safepipe-path", "", "a safepipe checkout (`DIR`) to use through a replace directive, instead of a published version")
	if code, done := parseFlags(fs, initSynopsis, args, stdout, stderr); done {
		return code
	}
	var errs []error
	switch {
	case fs.NArg() == 0:
		errs = append(errs, errors.New("init takes the directory to write (safepipe init [flags] DIR)"))
	case fs.NArg() > 1 && slices.ContainsFunc(fs.Args()[1:], func(a string) bool { return strings.HasPrefix(a, "-") }):
		errs = append(errs, fmt.Errorf("init: flags go before DIR (got %q after %q)", fs.Args()[1:], fs.Arg(0)))
	case fs.NArg() > 1:
		errs = append(errs, fmt.Errorf("init takes one directory, got %d arguments", fs.NArg()))
	}
	dir := fs.Arg(0)
	v := initValues{
		Team: *team, Module: *mod, Repo: *repo, TimeZone: *tz,
		ToolchainAccount: *toolAcct, ToolchainRegion: *toolRegion, PreProdAccount: *preAcct, ProdAccount: *prodAcct,
		ConnectionArn: *conn, UpDownRegion: *updown, GoVersion: goVersion, CDKVersion: cdkCLIVersion,
	}
	if v.Team == "" && dir != "" {
		v.Team = filepath.Base(filepath.Clean(dir))
	}
	teamOK := names.ValidPart(v.Team)
	if !teamOK && fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("--team %q must match %s (it names the team's alarms, stacks and pipeline): pass --team", v.Team, names.PartRE))
	}
	// The module and repository default to names made from the team:
	// checked only when given, or when the team they come from is valid.
	if v.Module == "" && teamOK {
		v.Module = "example.com/" + v.Team
	}
	if err := module.CheckPath(v.Module); (v.Module != "" || *mod != "") && (err != nil || strings.ContainsAny(v.Module, "\"`\\")) {
		errs = append(errs, fmt.Errorf("--module %q is not a Go module path: %v", v.Module, err))
	}
	if v.Repo == "" && teamOK {
		v.Repo = "example-org/" + v.Team
	}
	if (v.Repo != "" || *repo != "") && !repoRE.MatchString(v.Repo) {
		errs = append(errs, fmt.Errorf("--repo %q must be OWNER/NAME", v.Repo))
	}
	if *shape != "lambda" {
		errs = append(errs, fmt.Errorf("--shape %q is unknown (want lambda; examples/zonal and examples/shapes show the others)", *shape))
	}
	if _, err := time.LoadLocation(v.TimeZone); err != nil || v.TimeZone == "" || v.TimeZone == "Local" || !tzRE.MatchString(v.TimeZone) {
		errs = append(errs, fmt.Errorf("--time-zone %q is not an IANA time zone", v.TimeZone))
	}
	for _, h := range strings.Split(*holidays, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			errs = append(errs, fmt.Errorf("--holidays: %q is not a date, YYYY-MM-DD", h))
			continue
		}
		v.Holidays = append(v.Holidays, h)
	}
	slices.Sort(v.Holidays)
	v.Holidays = slices.Compact(v.Holidays)
	for _, a := range []struct{ flag, value string }{{"toolchain-account", v.ToolchainAccount}, {"preprod-account", v.PreProdAccount}, {"prod-account", v.ProdAccount}} {
		if !accountRE.MatchString(a.value) {
			errs = append(errs, fmt.Errorf("--%s %q is not an AWS account ID (12 digits)", a.flag, a.value))
		}
	}
	cat := waves.DefaultCatalog()
	for _, r := range []struct{ flag, value string }{{"toolchain-region", v.ToolchainRegion}, {"updown-region", v.UpDownRegion}} {
		if _, ok := cat.Region(r.value); !ok {
			errs = append(errs, fmt.Errorf("--%s %q is not a region of the catalog (safepipe regions lists them)", r.flag, r.value))
		}
	}
	if v.ConnectionArn == "" {
		v.ConnectionArn = fmt.Sprintf("arn:aws:codeconnections:%s:%s:connection/00000000-0000-4000-8000-000000000000", v.ToolchainRegion, v.ToolchainAccount)
	}
	if !connectionRE.MatchString(v.ConnectionArn) {
		errs = append(errs, fmt.Errorf("--connection-arn %q is not a CodeConnections (or CodeStar Connections) connection ARN", v.ConnectionArn))
	}
	v.StackName = camel(v.Team) + "Pipeline"
	var err error
	v.SafepipeVersion, v.SafepipePath, err = safepipeRequirement(*version, *local)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return fail(stderr, err)
	}
	files, err := renderSkeleton(v)
	if err != nil {
		return fail(stderr, err)
	}
	if err := writeTree(dir, files); err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "safepipe init: wrote %d files in %s (team %s, module %s, pipeline stack %s)\n\nnext:\n", len(files), esc(dir), v.Team, v.Module, v.StackName)
	fmt.Fprintf(stdout, "  cd %s\n  go mod tidy      # go.sum, through your module proxy\n  npm install      # the pinned CDK CLI and package-lock.json (commit it)\n  go vet ./... && go test ./... && npx cdk synth\n  go test ./pipelines/%s -run Snapshot -update   # record the snapshot; review and commit it\n", esc(dir), v.Team)
	fmt.Fprintf(stdout, "\nthen replace the placeholder accounts and connection in org/org.go (see README.md)\n")
	return 0
}

var (
	repoRE       = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$`)
	tzRE         = regexp.MustCompile(`^[A-Za-z0-9_+/-]{1,64}$`)
	accountRE    = regexp.MustCompile(`^[0-9]{12}$`)
	connectionRE = regexp.MustCompile(`^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:[0-9]{12}:connection/[A-Za-z0-9-]{1,64}$`)
)

// camel is "payments-api" as "PaymentsApi".
func camel(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// safepipeRequirement is the version go.mod requires and the checkout a
// replace directive points at: a given version; a checkout (its go.mod
// must be safepipe's), required as v0.0.0; or this binary's own version
// when it is a release (a build from a checkout is not one the module
// proxy can serve).
func safepipeRequirement(version, local string) (string, string, error) {
	switch {
	case version != "" && local != "":
		return "", "", errors.New("--safepipe-version and --safepipe-path are both set; give one")
	case local != "":
		abs, err := filepath.Abs(local)
		if err != nil {
			return "", "", fmt.Errorf("--safepipe-path: %w", err)
		}
		b, err := os.ReadFile(filepath.Join(abs, "go.mod"))
		if err != nil || !bytes.HasPrefix(b, []byte("module github.com/safepipe/safepipe\n")) {
			return "", "", fmt.Errorf("--safepipe-path %q is not a safepipe checkout (its go.mod must declare module github.com/safepipe/safepipe)", local)
		}
		if strings.ContainsAny(abs, "\n\"`") {
			return "", "", fmt.Errorf("--safepipe-path %q: a path go.mod cannot hold", local)
		}
		return "v0.0.0", abs, nil
	case version != "":
		if !semver.IsValid(version) || semver.Canonical(version) != version {
			return "", "", fmt.Errorf("--safepipe-version %q is not a canonical semantic version (v1.2.3)", version)
		}
		return version, "", nil
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == "github.com/safepipe/safepipe" && semver.IsValid(bi.Main.Version) &&
		semver.Prerelease(bi.Main.Version) == "" && semver.Build(bi.Main.Version) == "" {
		return bi.Main.Version, "", nil
	}
	return "", "", errors.New("this safepipe is not a release build, so it cannot name a version to require: pass --safepipe-path DIR (a safepipe checkout) or --safepipe-version VERSION")
}

// renderSkeleton renders every file of the skeleton, Go files gofmt'ed.
func renderSkeleton(v initValues) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(skeleton, "skeleton", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := skeleton.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(p, "skeleton/"), ".tmpl")
		switch {
		case name == "gitignore":
			name = ".gitignore"
		case strings.HasPrefix(name, "pipelines/team/"):
			name = path.Join("pipelines", v.Team, strings.TrimPrefix(name, "pipelines/team/"))
		}
		t, err := template.New(name).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return fmt.Errorf("init: skeleton %s: %w", p, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, v); err != nil {
			return fmt.Errorf("init: skeleton %s: %w", p, err)
		}
		body := b.Bytes()
		if strings.HasSuffix(name, ".go") {
			if body, err = format.Source(body); err != nil {
				return fmt.Errorf("init: skeleton %s renders Go that does not parse: %w", p, err)
			}
		}
		out[name] = body
		return nil
	})
	return out, err
}

// writeTree writes files under dir, which must not exist or be empty: init
// never overwrites. Every write goes through an os.Root on dir.
func writeTree(dir string, files map[string][]byte) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("init: %s is not empty (it holds %s): init writes a new repository and overwrites nothing", dir, entries[0].Name())
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("init: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	defer root.Close()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("init: %w", err)
			}
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("init: %w", err)
		}
		_, werr := f.Write(files[name])
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("init: %s: %w", name, werr)
		}
	}
	return nil
}
