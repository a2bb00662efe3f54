package verify

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fuzz targets below cover every parser of the package. Their seed
// corpora are in testdata/fuzz/<target>/ (small inputs: the fuzzer slows
// down on large ones); "make fuzz" runs each for a bounded time.

// noControl fails when text output carries a control character other
// than a newline.
func noControl(t *testing.T, s string) {
	t.Helper()
	for _, r := range s {
		if r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r < 0xa0 || r == '\u202e' {
			t.Fatalf("control character %U in output %q", r, s)
		}
	}
}

// FuzzParseTemplate: any input answers with a report or an error, never a
// panic, within the limits; text output never carries control characters.
func FuzzParseTemplate(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := TemplateReader(bytes.NewReader(b), "fuzz", nil)
		if err != nil {
			noControl(t, err.Error())
			return
		}
		var out bytes.Buffer
		if err := WriteText(&out, rep, Info); err != nil {
			t.Fatal(err)
		}
		noControl(t, out.String())
	})
}

// FuzzReadAssembly writes a manifest, a nested assembly and a template
// from the input and verifies the directory: a report or an error, never a
// panic or a hang.
func FuzzReadAssembly(f *testing.F) {
	f.Fuzz(func(t *testing.T, manifest, nested, template []byte) {
		dir := t.TempDir()
		write := func(name string, b []byte) {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("manifest.json", manifest)
		write("S.template.json", template)
		if err := os.Mkdir(filepath.Join(dir, "n"), 0o755); err != nil {
			t.Fatal(err)
		}
		write(filepath.Join("n", "manifest.json"), nested)
		write(filepath.Join("n", "S.template.json"), template)
		_ = os.Symlink(".", filepath.Join(dir, "loop"))
		rep, err := Assembly(dir, nil)
		if err != nil {
			noControl(t, strings.ReplaceAll(err.Error(), dir, "DIR"))
			return
		}
		var out bytes.Buffer
		_ = WriteText(&out, rep, Info)
		noControl(t, out.String())
	})
}

// FuzzReadConfig: any config is read or refused, never a panic; what is
// read compiles.
func FuzzReadConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ReadConfig(bytes.NewReader(b))
		if err != nil {
			noControl(t, err.Error())
			return
		}
		if _, err := c.compile(); err != nil {
			t.Fatalf("accepted a config that does not compile: %v", err)
		}
	})
}

// FuzzGateConfig: any gates.json is read or refused, never a panic.
func FuzzGateConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := parseGateConfig(b, "gates.json", DefaultLimits())
		if err != nil {
			noControl(t, err.Error())
			return
		}
		for name, s := range g.stages {
			if s.name != name {
				t.Fatalf("stage %q filed under %q", s.name, name)
			}
		}
	})
}
