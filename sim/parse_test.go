package sim

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFault(t *testing.T) {
	cases := []struct {
		spec string
		want Fault
		err  string
	}{
		{spec: "eu-west-1:Prod-W3-OneBox+20m", want: Fault{Region: "eu-west-1", Stage: "Prod-W3-OneBox", After: 20 * time.Minute}},
		{spec: "orders-prod-bake@eu-west-1:Prod-W3+1h30m", want: Fault{Alarm: "orders-prod-bake", Region: "eu-west-1", Stage: "Prod-W3", After: 90 * time.Minute}},
		{spec: "a@b@eu-west-1:Prod@W3+0s", want: Fault{Alarm: "a@b", Region: "eu-west-1", Stage: "Prod@W3"}},
		{spec: "org:Prod-W2-OneBox+0m~2d", want: Fault{Org: true, Stage: "Prod-W2-OneBox", Hold: 48 * time.Hour}},
		{spec: "us-east-1@+1d12h", want: Fault{Region: "us-east-1", After: 36 * time.Hour}},
		{spec: "org@+5m~30m", want: Fault{Org: true, After: 5 * time.Minute, Hold: 30 * time.Minute}},
		{spec: "eu-west-1:Prod-W3", err: "no +DURATION"},
		{spec: "eu-west-1+20m", err: "no :STAGE"},
		{spec: "Europe:Prod-W3+20m", err: `"Europe" is not a region code`},
		{spec: "eu-west-1:Prod W3+20m", err: "is not a stage name"},
		{spec: "eu-west-1:Prod-W3+-5m", err: "negative"},
		{spec: "eu-west-1:Prod-W3+soon", err: `duration "soon"`},
		{spec: "eu-west-1:Prod-W3+5m~0s", err: "not a positive duration"},
		{spec: "@eu-west-1:Prod-W3+5m", err: "alarm name must be 1–255"},
		{spec: "mars@+5m", err: `"mars" is not a region code`},
	}
	for _, c := range cases {
		t.Run(c.spec, func(t *testing.T) {
			f, err := ParseFault(c.spec)
			if c.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.err)
				assert.Contains(t, err.Error(), fmt.Sprintf("fault %q", c.spec), "the error names the spec")
				return
			}
			require.NoError(t, err)
			c.want.Spec = c.spec
			assert.Equal(t, c.want, f)
		})
	}
	_, err := ParseFaults([]string{"x", "eu-west-1:A+1m", "y"})
	assert.ErrorContains(t, err, `fault "x"`)
	assert.ErrorContains(t, err, `fault "y"`, "every bad spec at once")
}

func TestAlarmRule(t *testing.T) {
	place := Place{"333333333333", "eu-west-1"}
	e, err := parseAlarmRule(`(ALARM("arn:aws:cloudwatch:eu-west-1:333333333333:alarm:a") OR ALARM(b)) AND NOT OK("c") AND TRUE`, place)
	require.NoError(t, err)
	states := map[string]string{"a": "OK", "b": "ALARM", "c": "ALARM"}
	get := func(k AlarmKey) string { return states[k.Name] }
	assert.True(t, e.eval(get))
	states["c"] = "OK"
	assert.False(t, e.eval(get))
	var kids []string
	e.children(func(k AlarmKey) { kids = append(kids, k.String()) })
	assert.Equal(t, []string{"a (333333333333/eu-west-1)", "b (333333333333/eu-west-1)", "c (333333333333/eu-west-1)"}, kids)
	for _, bad := range []string{"ALARM(a", "ALARM a", "(ALARM(a)", "ALARM(a) XOR ALARM(b)", `ALARM("a)`, strings.Repeat("NOT ", 100) + "TRUE", strings.Repeat("x", maxRuleLength+1)} {
		_, err := parseAlarmRule(bad, place)
		assert.Error(t, err, bad)
	}
}

// TestReaderIsStrictAndBounded: duplicate keys, trailing data, oversized
// files, paths that leave the assembly and nested cycles.
func TestReaderIsStrictAndBounded(t *testing.T) {
	tmpl := `{"Resources":{"P":{"Type":"AWS::CodePipeline::Pipeline","Properties":{"PipelineType":"V2","Stages":[]}}}}`
	manifest := func(arts string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(`{"version":"54.0.0","artifacts":{` + arts + `}}`)}
	}
	stack := `"s":{"type":"aws:cloudformation:stack","environment":"aws://111111111111/us-west-2","properties":{"templateFile":"p.template.json"}}`
	cases := []struct {
		name string
		fs   fstest.MapFS
		lim  Limits
		err  string
	}{
		{"ok", fstest.MapFS{"manifest.json": manifest(stack), "p.template.json": {Data: []byte(tmpl)}}, Limits{}, ""},
		{"cycle", fstest.MapFS{"manifest.json": manifest(stack + `,"n":{"type":"cdk:cloud-assembly","properties":{"directoryName":"n"}}`), "p.template.json": {Data: []byte(tmpl)},
			"n/manifest.json": manifest(`"back":{"type":"cdk:cloud-assembly","properties":{"directoryName":".."}}`)}, Limits{}, ""},
		{"nested escape", fstest.MapFS{"manifest.json": manifest(stack + `,"n":{"type":"cdk:cloud-assembly","properties":{"directoryName":"n"}}`), "p.template.json": {Data: []byte(tmpl)},
			"n/manifest.json": manifest(`"up":{"type":"cdk:cloud-assembly","properties":{"directoryName":"../.."}}`)}, Limits{}, "leaves the assembly"},
		{"self cycle", fstest.MapFS{"manifest.json": manifest(stack + `,"n":{"type":"cdk:cloud-assembly","properties":{"directoryName":"."}}`), "p.template.json": {Data: []byte(tmpl)}}, Limits{}, ""},
		{"escape", fstest.MapFS{"manifest.json": manifest(`"s":{"type":"aws:cloudformation:stack","properties":{"templateFile":"../etc/passwd"}}`)}, Limits{}, "leaves the assembly"},
		{"absolute", fstest.MapFS{"manifest.json": manifest(`"s":{"type":"aws:cloudformation:stack","properties":{"templateFile":"/etc/passwd"}}`)}, Limits{}, "must be relative"},
		{"duplicate key", fstest.MapFS{"manifest.json": manifest(stack), "p.template.json": {Data: []byte(`{"Resources":{"P":{"Type":"a","Type":"b"}}}`)}}, Limits{}, `duplicate key "Type"`},
		{"trailing", fstest.MapFS{"manifest.json": manifest(stack), "p.template.json": {Data: []byte(tmpl + "{}")}}, Limits{}, "data after"},
		{"case-variant keys", fstest.MapFS{"manifest.json": manifest(stack), "p.template.json": {Data: []byte(`{"Resources":{"P":{"Type":"a","type":"b"}}}`)}}, Limits{}, "only in case"},
		{"number out of range", fstest.MapFS{"manifest.json": manifest(stack), "p.template.json": {Data: []byte(`{"Resources":{"P":{"Type":"a","Properties":{"N":1e400}}}}`)}}, Limits{}, "number 1e400"},
		{"too deep", fstest.MapFS{"manifest.json": manifest(stack), "p.template.json": {Data: []byte(`{"Resources":{"P":{"Type":"a","Properties":{"N":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}}}}`)}}, Limits{}, "nesting deeper than 64"},
		{"too big", fstest.MapFS{"manifest.json": manifest(stack), "p.template.json": {Data: []byte(tmpl)}}, Limits{MaxFileBytes: 64}, "larger than 64 bytes"},
		{"too much", fstest.MapFS{"manifest.json": manifest(stack), "p.template.json": {Data: []byte(tmpl)}}, Limits{MaxTotalBytes: 200}, "larger than 200 bytes in all"},
		{"no resources", fstest.MapFS{"manifest.json": manifest(stack), "p.template.json": {Data: []byte(`{"Outputs":{}}`)}}, Limits{}, "no Resources"},
		{"no manifest", fstest.MapFS{}, Limits{}, "no cloud assembly manifest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := ReadAssembly(c.fs, c.lim)
			if c.err != "" {
				assert.ErrorContains(t, err, c.err)
				return
			}
			require.NoError(t, err)
			assert.Len(t, a.Stacks, 1)
			assert.Equal(t, "111111111111", a.Stacks[0].Account)
		})
	}
	deep := fstest.MapFS{"manifest.json": manifest(`"n":{"type":"cdk:cloud-assembly","properties":{"directoryName":"d"}}`)}
	dir := "d"
	for i := 0; i < 12; i++ {
		deep[dir+"/manifest.json"] = manifest(`"n":{"type":"cdk:cloud-assembly","properties":{"directoryName":"d"}}`)
		dir += "/d"
	}
	_, err := ReadAssembly(deep, Limits{})
	assert.ErrorContains(t, err, "nested deeper than 8")
}

func FuzzParseFault(f *testing.F) {
	for _, s := range []string{"eu-west-1:Prod-W3-OneBox+20m", "a@eu-west-1:S+1h~2d", "org:S+0s", "us-east-1@+1d", "org@+5m~1m", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ft, err := ParseFault(s)
		if err == nil && ft.Spec != s {
			t.Fatalf("spec not kept: %q", s)
		}
	})
}

func FuzzParseAlarmRule(f *testing.F) {
	for _, s := range []string{`ALARM("a") OR OK(b)`, "NOT (TRUE AND FALSE)", `INSUFFICIENT_DATA("arn:aws:cloudwatch:r:1:alarm:x")`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if e, err := parseAlarmRule(s, Place{"1", "r"}); err == nil {
			e.eval(func(AlarmKey) string { return "ALARM" })
		}
	})
}

// FuzzReadTemplate: any bytes either fail cleanly or give a model whose
// run is bounded.
func FuzzReadTemplate(f *testing.F) {
	f.Add([]byte(`{"Resources":{"P":{"Type":"AWS::CodePipeline::Pipeline","Properties":{"PipelineType":"V2","Stages":[{"Name":"A","Actions":[{"Name":"x","ActionTypeId":{"Provider":"CodeBuild"},"RunOrder":1}],"BeforeEntry":{"Conditions":[{"Result":"FAIL","Rules":[{"Name":"w","RuleTypeId":{"Provider":"DeploymentWindow"},"Configuration":{"Cron":"* * 9-15 ? * MON-THU"}}]}]}}]}}}}`))
	f.Add([]byte(`{"Resources":{"A":{"Type":"AWS::CloudWatch::CompositeAlarm","Properties":{"AlarmName":"a","AlarmRule":{"Fn::Join":["",["ALARM(",{"Ref":"A"},")"]]}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ReadTemplate(strings.NewReader(string(data)), "fuzz.template.json", Limits{MaxFileBytes: 1 << 16})
		if err != nil {
			return
		}
		m, err := NewModel(a)
		if err != nil {
			return
		}
		_, _ = Run(m, Options{Start: monday, MaxDays: 1})
	})
}

// FuzzParseActionEnv: the EnvironmentVariables reader never panics, and
// what it accepts has no name twice.
func FuzzParseActionEnv(f *testing.F) {
	f.Add(`[{"name":"SAFEPIPE_GROUP","type":"PLAINTEXT","value":"g"}]`)
	f.Add(`[{"name":"A","value":"1"},{"name":"A","value":"2"}]`)
	f.Add(`[] []`)
	f.Add(`[{"name":"S","type":"SECRETS_MANAGER","value":"arn"}]`)
	f.Fuzz(func(t *testing.T, raw string) {
		vars, err := parseActionEnv(raw)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, v := range vars {
			if seen[v.Name] {
				t.Fatalf("%q accepted twice", v.Name)
			}
			seen[v.Name] = true
		}
	})
}

// TestEffectiveHash: a template that differs only in what a stack update
// does not compare (Description, the Metadata section, a resource's
// Metadata) has the same effective hash; any other difference, including
// one that moves characters between a key and its value, changes it.
func TestEffectiveHash(t *testing.T) {
	base := `{"Description":"d","Metadata":{"m":1},"Resources":{"A":{"Type":"T","Metadata":{"x":1},"Properties":{"P":"v","N":[1,true,null]}}},"Outputs":{"O":{"Value":"o"}}}`
	hash := func(s string) string {
		tmpl, err := ParseTemplate([]byte(s), "t.json")
		require.NoError(t, err)
		return tmpl.Effective
	}
	same := []string{
		`{"Description":"other","Metadata":{"m":2},"Resources":{"A":{"Type":"T","Metadata":{"y":2},"Properties":{"N":[1,true,null],"P":"v"}}},"Outputs":{"O":{"Value":"o"}}}`,
		`{"Resources":{"A":{"Properties":{"P":"v","N":[1.0,true,null]},"Type":"T"}},"Outputs":{"O":{"Value":"o"}}}`,
	}
	differ := []string{
		`{"Resources":{"A":{"Type":"T","Properties":{"P":"w","N":[1,true,null]}}},"Outputs":{"O":{"Value":"o"}}}`,
		`{"Resources":{"A":{"Type":"T","Properties":{"P":"v","N":[1,true]}}},"Outputs":{"O":{"Value":"o"}}}`,
		`{"Resources":{"A":{"Type":"T","Properties":{"P":"v","N":[1,true,null]}}}}`,
		`{"Resources":{"A":{"Type":"T","Properties":{"P":"v","N":[1,true,null]}}},"Outputs":{"O":{"Value":"o\""}}}`,
		`{"Resources":{"A":{"Type":"T","Properties":{"P":"v","N":[1,true,null]}}},"Outputs":{"O\":{":{"Value":"o"}}}`,
		`{"Resources":{"A":{"Type":"T","Properties":{"P":"v","N":[1,"true",null]}}},"Outputs":{"O":{"Value":"o"}}}`,
	}
	want := hash(base)
	for _, s := range same {
		assert.Equal(t, want, hash(s), s)
	}
	seen := map[string]string{want: base}
	for _, s := range differ {
		h := hash(s)
		assert.NotContains(t, seen, h, "%s has the hash of %s", s, seen[h])
		seen[h] = s
	}
}

// BenchmarkLoad reads the committed zonal fixture (templates, manifests,
// the gate controller's configuration) and builds the model:
//
//	go test ./sim -run XXX -bench Load -benchmem
func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		a, err := Load("testdata/zonal-region-rollback", Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := NewModel(a); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNumberErrorIsStable: of several numbers float64 cannot hold, the
// error names the same one on every run (map order does not leak).
func TestNumberErrorIsStable(t *testing.T) {
	tmpl := []byte(`{"Resources":{"A":{"Type":"T","Properties":{"z":1e400,"b":2e400,"m":[3e400]}},"B":{"Type":"T","Properties":{"a":4e400}}}}`)
	for range 20 {
		_, err := ParseTemplate(tmpl, "t.json")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "number 2e400")
	}
}
