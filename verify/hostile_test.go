package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/model"
)

// joinBomb is the template of issue 15: Fn::Join nested five deep, each
// join's delimiter the previous join over 100 empty parts. Flattened, it
// would be about 10^10 bytes (95 GB of strings before this bound).
func joinBomb(depth, parts int) []byte {
	var v any = "x"
	for range depth {
		empties := make([]any, parts)
		for i := range empties {
			empties[i] = ""
		}
		v = map[string]any{"Fn::Join": []any{v, empties}}
	}
	tpl := map[string]any{"Resources": map[string]any{"Alias": map[string]any{
		"Type":       "AWS::Lambda::Alias",
		"Properties": map[string]any{"Name": v, "FunctionName": "f", "FunctionVersion": "1"},
	}}}
	b, _ := json.Marshal(tpl)
	return b
}

func TestHostileTemplates(t *testing.T) {
	pass, err := os.ReadFile("testdata/pass/pipeline.template.json")
	require.NoError(t, err)
	failing, err := os.ReadFile("testdata/fail/SP001-no-rollback.template.json")
	require.NoError(t, err)
	var duplicated bytes.Buffer
	// A failing pipeline, then a passing one under the same logical ID: a
	// lenient decoder keeps the last and says nothing.
	duplicated.WriteString(`{"Resources": {"PipelineCodePipeline": `)
	duplicated.Write(resourceJSON(t, failing, "PipelineCodePipeline"))
	duplicated.WriteString(`, "PipelineCodePipeline": `)
	duplicated.Write(resourceJSON(t, pass, "PipelineCodePipeline"))
	duplicated.WriteString(`}}`)

	cases := []struct {
		name  string
		input []byte
		want  []string
	}{
		{"join bomb", joinBomb(5, 100), []string{"Fn::Join expands to more than 1048576 bytes (limit 1048576)", "Resources.Alias.Properties.Name"}},
		{"trailing brackets", append(append([]byte{}, pass...), "}]}"...), []string{"data after the JSON document"}},
		{"trailing braces", append(append([]byte{}, pass...), "}}"...), []string{"data after the JSON document"}},
		{"a second document", append(append([]byte{}, pass...), ` {"Resources": {}}`...), []string{"data after the JSON document"}},
		{"duplicate logical ID", duplicated.Bytes(), []string{`duplicate key "PipelineCodePipeline"`}},
		{"case-variant keys", []byte(`{"Resources": {"A": {"Type": "AWS::Lambda::Alias"}}, "resources": {}}`), []string{`key "resources" differs from key "Resources" (line 1) only in case`}},
		{"case-variant property", []byte(`{"Resources": {"A": {"Type": "AWS::Lambda::Alias", "Properties": {"Name": "a", "NAME": "b"}}}}`), []string{`key "NAME" differs from key "Name"`}},
		{"stages an object", stagesAs(t, pass, map[string]any{"Name": "Prod-W1"}), []string{"Stages is not a list"}},
		{"stages empty", stagesAs(t, pass, []any{}), []string{"has 0 stage(s); CodePipeline requires at least two"}},
		{"cyrillic stage name", bytes.ReplaceAll(failing, []byte(`"Prod-W1-Regional"`), []byte(`"Рrod-W1-Regional"`)), []string{`has name "Рrod-W1-Regional"; CodePipeline stage names match`}},
		{"max-int WaitTime", bytes.Replace(pass, []byte(`"WaitTime": "720"`), []byte(`"WaitTime": "9223372036854775807"`), 1), []string{"is not a whole number of minutes from 0 to 86400 (limit 86400)"}},
		{"negative WaitTime", bytes.Replace(pass, []byte(`"WaitTime": "720"`), []byte(`"WaitTime": "-5"`), 1), []string{`WaitTime "-5"`}},
		{"RunOrder out of range", bytes.Replace(pass, []byte(`"RunOrder": 2`), []byte(`"RunOrder": 1000000`), 1), []string{"RunOrder \"1000000\" is not a whole number from 1 to 999"}},
		{"deep nesting", []byte(strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)), []string{"nesting deeper than 128 levels"}},
		{"invalid UTF-8", []byte("{\"Resources\": {\"A\": {\"Type\": \"\xff\"}}}"), []string{"not valid UTF-8"}},
		{"byte order mark", append([]byte("\xef\xbb\xbf"), pass...), []string{"byte order mark"}},
		{"logical ID with an escape sequence", []byte("{\"Resources\": {\"A\\u001b[31m\": {\"Type\": \"AWS::Lambda::Alias\"}}}"), []string{`resource logical ID "A\x1b[31m" is not alphanumeric`}},
		{"not an object", []byte(`[1, 2]`), []string{"is not a CloudFormation template"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.NotNil(t, c.input)
			rep, err := TemplateReader(bytes.NewReader(c.input), "hostile.json", nil)
			require.Error(t, err, "%+v", rep)
			assert.Nil(t, rep)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				assert.Equal(t, Escape(line), line, "error lines carry no control characters")
			}
		})
	}
}

// TestJoinBombIsCheap: the bound is reached in linear work, not after
// building the string.
func TestJoinBombIsCheap(t *testing.T) {
	b := joinBomb(5, 100)
	allocs := testing.AllocsPerRun(3, func() {
		_, _ = TemplateReader(bytes.NewReader(b), "bomb", nil)
	})
	assert.Less(t, allocs, 20000.0)
	s, err := model.FlattenLimit(decode(t, b).(map[string]any)["Resources"].(map[string]any)["Alias"].(map[string]any)["Properties"].(map[string]any)["Name"], 1<<16)
	assert.ErrorContains(t, err, "expands to more than 65536 bytes (limit 65536)")
	assert.Len(t, s, 1<<16)
	assert.True(t, strings.HasSuffix(model.Flatten(map[string]any{"Fn::Join": []any{strings.Repeat("y", 1<<19), []any{"a", "b", "c", "d"}}}), "…"))
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	v, err := DecodeJSON(b, "test", 128)
	require.NoError(t, err)
	return v
}

func resourceJSON(t *testing.T, tpl []byte, id string) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(tpl, &m))
	b, err := json.Marshal(m["Resources"].(map[string]any)[id])
	require.NoError(t, err)
	return b
}

func stagesAs(t *testing.T, tpl []byte, stages any) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(tpl, &m))
	m["Resources"].(map[string]any)["PipelineCodePipeline"].(map[string]any)["Properties"].(map[string]any)["Stages"] = stages
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// TestHostileAssemblies: walks that would never end, files that would
// never stop, paths that leave the assembly.
func TestHostileAssemblies(t *testing.T) {
	service, err := os.ReadFile("testdata/pass/service.template.json")
	require.NoError(t, err)
	stack := func(dir string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "S.template.json"), service, 0o644))
	}
	manifest := func(dir string, artifacts map[string]any) {
		b, err := json.Marshal(map[string]any{"version": "48.0.0", "artifacts": artifacts})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o644))
	}
	nested := func(dir string) map[string]any {
		return map[string]any{"type": "cdk:cloud-assembly", "properties": map[string]any{"directoryName": dir}}
	}
	stackArt := map[string]any{"type": "aws:cloudformation:stack", "environment": "aws://333333333333/us-east-1", "properties": map[string]any{"templateFile": "S.template.json"}}

	t.Run("two nested assemblies linking to the root", func(t *testing.T) {
		dir := t.TempDir()
		stack(dir)
		manifest(dir, map[string]any{"S": stackArt, "a": nested("a"), "b": nested("b")})
		require.NoError(t, os.Symlink(".", filepath.Join(dir, "a")))
		require.NoError(t, os.Symlink(".", filepath.Join(dir, "b")))
		rep, err := Assembly(dir, nil)
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Templates, "each directory is read once")
	})
	t.Run("a link out of the assembly", func(t *testing.T) {
		dir := t.TempDir()
		outside := t.TempDir()
		stack(outside)
		manifest(outside, map[string]any{"S": stackArt})
		manifest(dir, map[string]any{"out": nested("out")})
		require.NoError(t, os.Symlink(outside, filepath.Join(dir, "out")))
		_, err := Assembly(dir, nil)
		assert.ErrorContains(t, err, "escapes")
	})
	t.Run("a path out of the assembly", func(t *testing.T) {
		dir := t.TempDir()
		manifest(dir, map[string]any{"up": nested("../x"), "abs": nested("/etc"), "S": map[string]any{"type": "aws:cloudformation:stack", "properties": map[string]any{"templateFile": "../../etc/passwd"}}})
		_, err := Assembly(dir, nil)
		assert.ErrorContains(t, err, `directoryName "../x" is not a path inside the assembly`)
		assert.ErrorContains(t, err, `directoryName "/etc" is not a path inside the assembly`)
		assert.ErrorContains(t, err, `templateFile "../../etc/passwd" is not a path inside the assembly`)
	})
	t.Run("nested too deep", func(t *testing.T) {
		dir := t.TempDir()
		d := dir
		for i := range 20 {
			manifest(d, map[string]any{"n": nested(fmt.Sprint("n", i))})
			d = filepath.Join(d, fmt.Sprint("n", i))
			require.NoError(t, os.Mkdir(d, 0o755))
		}
		manifest(d, map[string]any{})
		_, err := Assembly(dir, nil)
		assert.ErrorContains(t, err, "nested assemblies go deeper than 16 levels (limit 16)")
	})
	t.Run("too many assemblies", func(t *testing.T) {
		dir := t.TempDir()
		arts := map[string]any{}
		for i := range 300 {
			name := fmt.Sprintf("n%03d", i)
			require.NoError(t, os.Mkdir(filepath.Join(dir, name), 0o755))
			manifest(filepath.Join(dir, name), map[string]any{})
			arts[name] = nested(name)
		}
		manifest(dir, arts)
		_, err := Assembly(dir, nil)
		assert.ErrorContains(t, err, "more than 256 nested assemblies (limit 256)")
	})
	t.Run("a template larger than the limit", func(t *testing.T) {
		dir := t.TempDir()
		manifest(dir, map[string]any{"S": stackArt})
		big := append([]byte(`{"Resources": {}, "Metadata": {"x": "`), bytes.Repeat([]byte("a"), 2000)...)
		big = append(big, `"}}`...)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "S.template.json"), big, 0o644))
		_, err := Assembly(dir, &Config{Limits: &Limits{MaxFileBytes: 1000}})
		assert.ErrorContains(t, err, "S.template.json is 2040 bytes, more than 1000 (limit 1000)")
	})
	t.Run("the assembly larger than the limit", func(t *testing.T) {
		dir := t.TempDir()
		stack(dir)
		manifest(dir, map[string]any{"S": stackArt})
		_, err := Assembly(dir, &Config{Limits: &Limits{MaxTotalBytes: 1000}})
		assert.ErrorContains(t, err, "more than 1000 bytes in all (limit 1000)")
	})
	t.Run("a device as the template", func(t *testing.T) {
		dir := t.TempDir()
		manifest(dir, map[string]any{"S": stackArt})
		require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "S.template.json"), 0o644))
		_, err := Assembly(dir, nil)
		assert.ErrorContains(t, err, "S.template.json is not a regular file")
	})
	t.Run("a duplicate key in the manifest", func(t *testing.T) {
		dir := t.TempDir()
		stack(dir)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"artifacts": {}, "artifacts": {"S": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "S.template.json"}}}}`), 0o644))
		_, err := Assembly(dir, nil)
		assert.ErrorContains(t, err, `duplicate key "artifacts"`)
	})
	t.Run("a manifest of the wrong shape", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"artifacts": {"S": {"type": "aws:cloudformation:stack", "properties": {"templateFile": 7, "tags": {"a": 1}}}}}`), 0o644))
		_, err := Assembly(dir, nil)
		assert.ErrorContains(t, err, "artifact S: templateFile is not a string")
		assert.ErrorContains(t, err, `artifact S: tag "a" is not a string`)
	})
}

func TestHostilePaths(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.json")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	for path, want := range map[string]string{
		"/dev/zero": "/dev/zero is not a regular file or a directory",
		fifo:        "fifo.json is not a regular file or a directory",
	} {
		_, err := Path(path, nil)
		assert.ErrorContains(t, err, want)
	}
	big := filepath.Join(dir, "big.json")
	require.NoError(t, os.WriteFile(big, bytes.Repeat([]byte(" "), 9<<20), 0o644))
	_, err := Path(big, nil)
	assert.ErrorContains(t, err, "is larger than 8388608 bytes (limit 8388608)")
}

func TestHostileConfig(t *testing.T) {
	for in, want := range map[string]string{
		`{"production": "x", "production": "y"}`:                `duplicate key "production"`,
		`{"PRODUCTION": "x"}`:                                   `unknown field "PRODUCTION" (did you mean "production"?)`,
		`{"suppressions": [{"rule": "SP005", "Reason": "r"}]}`:  `config.suppressions[0]: unknown field "Reason" (did you mean "reason"?)`,
		`{"floors": {"firstWaveMinutes": 307446455}}`:           "floors.firstWaveMinutes 307446455 is not from 0 to 43200 minutes (limit 43200)",
		`{"floors": {"firstWaveMinutes": 9223372036854775807}}`: "is not from 0 to 43200 minutes",
		`{"floors": {"firstWaveMinutes": 1e300}}`:               "config: floors.firstWaveMinutes: 1e300 is not a whole number in range",
		`{} }`: "data after the JSON document",
		`{}]}`: "data after the JSON document",
		`{"externalAlarms": [{"alarm": "org-freeze"}]}`:         `externalAlarms[0] (org-freeze) has no reason`,
		`{"production": "` + strings.Repeat("a", 2000) + `"}`:   "config production is longer than 1000 characters (limit 1000)",
		`{"production": "(?i)prod\u001b[31m("}`:                 `config production "(?i)prod\x1b[31m("`,
		`{"suppressions": [{"rule": "SP005", "reason": "  "}]}`: "has no reason",
		`[]`:                       "config is not an object",
		strings.Repeat(" ", 2<<20): "config is larger than 1048576 bytes (limit 1048576)",
		`{"productionAccounts": ["111111111111", "11111111111a"]}`: `productionAccounts[1] "11111111111a"`,
		`{"productionAccounts": [123]}`:                            `config: productionAccounts: a number where a string belongs`,
		`{"floors": {"oneBoxMinutes": "60"}}`:                      `config: floors.oneBoxMinutes: a string where a number belongs`,
	} {
		_, err := ReadConfig(strings.NewReader(in))
		if assert.Error(t, err, in) {
			assert.Contains(t, err.Error(), want, in[:min(len(in), 80)])
			for _, line := range strings.Split(err.Error(), "\n") {
				assert.Equal(t, Escape(line), line)
			}
		}
	}
}

// TestOutputCannotTakeOverATerminal: names from a template reach the
// terminal escaped.
func TestOutputCannotTakeOverATerminal(t *testing.T) {
	b, err := os.ReadFile("testdata/fail/SP001-no-rollback.template.json")
	require.NoError(t, err)
	hostile := bytes.ReplaceAll(b, []byte(`"StackName": "orders-service"`), []byte(`"StackName": "orders\u001b]0;pwned\u0007\u202e"`))
	require.NotEqual(t, b, hostile)
	rep, err := TemplateReader(bytes.NewReader(hostile), "x\x1b[2Jy.json", &Config{})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, WriteText(&out, rep, Info))
	for _, r := range out.String() {
		assert.False(t, r < 0x20 && r != '\n', "control character %U in the text output", r)
		assert.NotEqual(t, '\u202e', r)
	}
	assert.Equal(t, `a\x1b[31mb\u202ec\x7f\xff`, Escape("a\x1b[31mb\u202ec\x7f\xff"))
}
