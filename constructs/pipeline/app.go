package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/safepipe/safepipe/internal/strictjson"
)

// BuildCommands builds, tests and synthesizes the Go CDK app that app runs
// (a command as `cdk synth --app` takes it, BasePipelineProps.App): the
// Build step's default. The CDK CLI in node_modules ships Go templates
// (aws-cdk/lib/init-templates, named %name%.template.go) that "go vet ./..."
// would try to compile: a go.mod in node_modules makes it a module of its
// own, which ./... skips. The synth names the app and the output
// directory, so that a repository with several pipelines (one cdk.json,
// several apps) builds each pipeline from its own app: CDK Pipelines
// updates the pipeline from this step's output.
func BuildCommands(app string) []string {
	return []string{
		"npm ci",
		`test -f node_modules/go.mod || printf 'module ignore\n' > node_modules/go.mod`,
		"go vet ./...",
		"go test ./...",
		"npx cdk synth --app " + shellQuote(app) + " --output cdk.out",
	}
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// DeriveApp is the default of BasePipelineProps.App: "go run ./<dir>",
// where dir is the running program's main package within its module
// (runtime/debug.ReadBuildInfo: Path, "The main package path", and
// Main.Path, the main module's), or "go run ." at the module's root. A
// program built from files ("go run main.go") has no package path; then
// the app is cdk.json's, read from the module root found from the working
// directory.
func DeriveApp() (string, error) {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path != "" {
		switch {
		case bi.Path == bi.Main.Path:
			return "go run .", nil
		case strings.HasPrefix(bi.Path, bi.Main.Path+"/"):
			// The test binary of a package that is not main is named
			// after it with ".test".
			return "go run ./" + strings.TrimSuffix(strings.TrimPrefix(bi.Path, bi.Main.Path+"/"), ".test"), nil
		}
	}
	app, file, err := cdkJSONApp()
	switch {
	case err != nil:
		return "", err
	case app == "":
		return "", fmt.Errorf("pipeline: App is not set, the program was not built from a package of its module, and %s names no app: set BasePipelineProps.App to the command that runs this pipeline's CDK app", orNone(file))
	}
	return app, nil
}

func orNone(file string) string {
	if file == "" {
		return "no cdk.json beside go.mod"
	}
	return file
}

// cdkJSONApp reads the "app" of the cdk.json at the root of the module the
// working directory is in (the directory holding go.mod); "" when there is
// none. The file is the team's own; it is read strictly all the same.
func cdkJSONApp() (app, file string, err error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", "", fmt.Errorf("pipeline: App: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", nil
		}
		dir = parent
	}
	file = filepath.Join(dir, "cdk.json")
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return "", "", nil
	}
	if err != nil {
		return "", file, fmt.Errorf("pipeline: App: %w", err)
	}
	defer f.Close()
	// Every key of cdk.json but "app" is the CLI's business: a map keeps
	// them unread, and one document, no duplicate keys, bounded size.
	var cfg map[string]json.RawMessage
	if err := strictjson.Decode(f, &cfg, 1<<20, file); err != nil {
		return "", file, fmt.Errorf("pipeline: App: %w", err)
	}
	if raw, ok := cfg["app"]; ok {
		if err := json.Unmarshal(raw, &app); err != nil {
			return "", file, fmt.Errorf("pipeline: App: %s: \"app\" is not a string", file)
		}
	}
	return app, file, nil
}

// shellWords splits a command line as a POSIX shell would for reading:
// single quotes, double quotes (with \\ \" \$ \` escapes) and backslashes;
// unquoted ; & | ( ) end a word and are words of their own. Nothing is
// expanded: $VAR stays as written. ok is false for an unterminated quote.
func shellWords(s string) (words []string, ok bool) {
	var w strings.Builder
	in := false // a word is under way
	flush := func() {
		if in {
			words = append(words, w.String())
			w.Reset()
			in = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			flush()
		case strings.IndexByte(";&|()", c) >= 0:
			flush()
			words = append(words, string(c))
		case c == '\\':
			in = true
			if i+1 < len(s) {
				i++
				w.WriteByte(s[i])
			}
		case c == '\'':
			in = true
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, false
			}
			w.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			in = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`", s[i+1]) >= 0 {
					i++
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, false
			}
		default:
			in = true
			w.WriteByte(c)
		}
	}
	flush()
	return words, true
}

// synthApp reads a build command: whether it calls `cdk synth` (or
// synthesize), and the --app/-a it passes ("" for cdk.json's).
func synthApp(command string) (synth bool, app string, ok bool) {
	words, ok := shellWords(command)
	if !ok {
		return false, "", false
	}
	for i := 0; i+1 < len(words); i++ {
		if words[i] != "cdk" || (words[i+1] != "synth" && words[i+1] != "synthesize") {
			continue
		}
		for j := i + 2; j < len(words) && strings.IndexAny(words[j], ";&|()") != 0; j++ {
			switch w := words[j]; {
			case (w == "--app" || w == "-a") && j+1 < len(words):
				return true, words[j+1], true
			case strings.HasPrefix(w, "--app="):
				return true, strings.TrimPrefix(w, "--app="), true
			}
		}
		return true, "", true
	}
	return false, "", true
}

// checkBuildSynth reports a build command that synthesizes another app
// than app: CDK Pipelines updates the pipeline, and deploys every stage,
// from the Build step's cdk.out, so a step that synthesizes cdk.json's app
// in a repository of several pipelines would replace this pipeline with
// another's. A command that does not call `cdk synth` (a make target, a
// script) cannot be read; the pipeline takes it on trust.
func checkBuildSynth(commands []string, app string) error {
	var errs []error
	for i, c := range commands {
		synth, got, ok := synthApp(c)
		if !ok {
			errs = append(errs, fmt.Errorf("pipeline: BuildCommands[%d] %q has an unterminated quote", i, c))
			continue
		}
		if !synth {
			continue
		}
		if got != "" {
			if strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(app), " ") {
				errs = append(errs, fmt.Errorf("pipeline: BuildCommands[%d] %q synthesizes app %q, not this pipeline's (%q, App): the pipeline would update itself from another app's output; use %s", i, c, got, app, shellQuote(app)))
			}
			continue
		}
		cfg, file, err := cdkJSONApp()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("pipeline: BuildCommands[%d] %q synthesizes cdk.json's app, which could not be read: %w", i, c, err))
		case cfg == "":
			errs = append(errs, fmt.Errorf("pipeline: BuildCommands[%d] %q synthesizes cdk.json's app, and %s names none: add --app %s", i, c, orNone(file), shellQuote(app)))
		case strings.Join(strings.Fields(cfg), " ") != strings.Join(strings.Fields(app), " "):
			errs = append(errs, fmt.Errorf("pipeline: BuildCommands[%d] %q synthesizes cdk.json's app (%q), not this pipeline's (%q, App): the pipeline would update itself from another app's output; add --app %s", i, c, cfg, app, shellQuote(app)))
		}
	}
	return errors.Join(errs...)
}
