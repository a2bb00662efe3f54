package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/safepipe/safepipe/internal/strictjson"

	"github.com/safepipe/safepipe/model"
)

// Limits bound what the reader accepts, so that a hostile or broken cloud
// assembly cannot exhaust memory or time.
type Limits struct {
	// MaxFileBytes caps one manifest or template. Default: 8 MiB.
	MaxFileBytes int64
	// MaxTotalBytes caps everything read. Default: 512 MiB.
	MaxTotalBytes int64
	// MaxAssemblies caps the nested assemblies walked. Default: 2,000.
	MaxAssemblies int
	// MaxStacks caps the stacks read. Default: 5,000.
	MaxStacks int
	// MaxNesting caps how deep nested assemblies go. Default: 8.
	MaxNesting int
}

func (l Limits) withDefaults() Limits {
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = 8 << 20
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = 512 << 20
	}
	if l.MaxAssemblies <= 0 {
		l.MaxAssemblies = 2000
	}
	if l.MaxStacks <= 0 {
		l.MaxStacks = 5000
	}
	if l.MaxNesting <= 0 {
		l.MaxNesting = 8
	}
	return l
}

// Assembly is what the simulator reads: every stack of a cloud assembly
// (nested stage assemblies included) or one template.
type Assembly struct {
	// Stacks in path order.
	Stacks []*Stack
	// Lone is true for a single template read without its assembly: what
	// other stacks create is unknown.
	Lone   bool
	byPath map[string]*Stack
}

// Stack is one CloudFormation stack of the assembly.
type Stack struct {
	// Artifact is the manifest's artifact ID ("" for a lone template).
	Artifact string
	// Name is the stack name (the manifest's stackName, else the artifact ID).
	Name string
	// Account and Region come from the manifest's environment ("" when
	// unknown or environment-agnostic).
	Account, Region string
	// Path is the template's path relative to the assembly root.
	Path string
	// Tags are the stack's tags (the manifest's).
	Tags map[string]string
	// GateAssets are the gates.json files of the stack's gate controller
	// functions (by logical ID): what the function runs, read from its
	// code asset in the assembly ("asset.<hash>/gates.json").
	GateAssets map[string][]byte
	// Template is the parsed template.
	Template *Template
}

// Template is a parsed CloudFormation template.
type Template struct {
	// Resources by logical ID.
	Resources map[string]*Resource
	// Parameters by name (their declarations), Conditions, and the
	// template's Metadata.
	Parameters, Conditions, Metadata map[string]any
	// Effective is the hash of what a stack update compares: the template
	// without Metadata (template-level and per resource) and Description.
	Effective string
	// Size is the template's size in bytes.
	Size int
}

// Resource is one template resource.
type Resource struct {
	Type         string
	Properties   map[string]any
	Metadata     map[string]any
	UpdatePolicy map[string]any
	// Condition is the resource's Condition attribute ("" for none).
	Condition string
}

// newEvaluator is the evaluator (model.Evaluator) of the stack's intrinsic
// functions.
func newEvaluator(s *Stack) *model.Evaluator {
	return model.NewEvaluator(model.Scope{
		StackName: s.Name, Account: s.Account, Region: s.Region,
		Parameters: s.Template.Parameters, Conditions: s.Template.Conditions,
		Resource: func(id string) (string, map[string]any, bool) {
			r, ok := s.Template.Resources[id]
			if !ok {
				return "", nil, false
			}
			return r.Type, r.Properties, true
		},
	})
}

// Load reads a cloud assembly directory or one template file.
func Load(p string, lim Limits) (*Assembly, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	if st.IsDir() {
		// os.Root keeps every read inside the directory: a symbolic link
		// or a ".." that leads out of it is an error, not followed
		// (os.DirFS would follow a link anywhere).
		root, err := os.OpenRoot(p)
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		defer root.Close()
		return ReadAssembly(root.FS(), lim)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("sim: %s is not a regular file or a directory", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	defer f.Close()
	return ReadTemplate(f, p, lim)
}

// ReadTemplate reads one template as an assembly of one stack.
func ReadTemplate(r io.Reader, name string, lim Limits) (*Assembly, error) {
	lim = lim.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("sim: %s: %w", name, err)
	}
	if int64(len(data)) > lim.MaxFileBytes {
		return nil, fmt.Errorf("sim: %s is larger than %d bytes", name, lim.MaxFileBytes)
	}
	t, err := ParseTemplate(data, name)
	if err != nil {
		return nil, err
	}
	base := path.Base(strings.ReplaceAll(name, "\\", "/"))
	s := &Stack{Name: strings.TrimSuffix(base, ".template.json"), Path: base, Template: t}
	for _, r := range t.Resources {
		if r.Type == "AWS::CodePipeline::Pipeline" && s.Region == "" {
			s.Region = homeRegion(r.Properties) // a pipeline's alarms live in its region
		}
	}
	return &Assembly{Stacks: []*Stack{s}, Lone: true, byPath: map[string]*Stack{s.Path: s}}, nil
}

// floatNumbers turns the json.Number values of a decoded document into
// float64, in place, as encoding/json decodes numbers into an interface
// (the evaluator and the checks read float64); a number float64 cannot hold
// is an error, as it is for encoding/json. Maps are walked in any order;
// when a number fails, the walk is redone in key order so that the error
// names the same number on every run.
func floatNumbers(v any) (any, error) {
	out, err := convertNumbers(v, false)
	if err != nil {
		_, err = convertNumbers(v, true)
	}
	return out, err
}

func convertNumbers(v any, sorted bool) (any, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", x, err)
		}
		return f, nil
	case map[string]any:
		convert := func(k string) error {
			e := x[k]
			if _, ok := e.(string); ok {
				return nil
			}
			f, err := convertNumbers(e, sorted)
			if err != nil {
				return err
			}
			x[k] = f
			return nil
		}
		if sorted {
			for _, k := range slices.Sorted(maps.Keys(x)) {
				if err := convert(k); err != nil {
					return nil, err
				}
			}
			break
		}
		for k := range x {
			if err := convert(k); err != nil {
				return nil, err
			}
		}
	case []any:
		for i, e := range x {
			f, err := convertNumbers(e, sorted)
			if err != nil {
				return nil, err
			}
			x[i] = f
		}
	}
	return v, nil
}

// ParseTemplate parses a JSON template strictly: one document, no
// duplicate or case-variant keys, bounded nesting, a Resources object.
func ParseTemplate(data []byte, name string) (*Template, error) {
	// model.DecodeJSON is verify's reader too (one strict reader of
	// templates); it is 3.5 times faster than a token walk for duplicate
	// keys followed by encoding/json (2.6 vs 8.8 ms on the reference's
	// pipeline template).
	doc, err := model.DecodeJSON(data, name, strictjson.MaxDepth)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	if doc, err = floatNumbers(doc); err != nil {
		return nil, fmt.Errorf("sim: %s is not a JSON CloudFormation template: %w", name, err)
	}
	raw, _ := doc.(map[string]any)
	if raw == nil {
		return nil, fmt.Errorf("sim: %s is not a JSON object", name)
	}
	res, ok := raw["Resources"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("sim: %s has no Resources object", name)
	}
	t := &Template{Resources: map[string]*Resource{}, Size: len(data)}
	t.Parameters, _ = raw["Parameters"].(map[string]any)
	t.Conditions, _ = raw["Conditions"].(map[string]any)
	t.Metadata, _ = raw["Metadata"].(map[string]any)
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(res)) {
		m, ok := res[id].(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("sim: %s: resource %s is not an object", name, id))
			continue
		}
		typ, _ := m["Type"].(string)
		if typ == "" {
			errs = append(errs, fmt.Errorf("sim: %s: resource %s has no Type", name, id))
			continue
		}
		r := &Resource{Type: typ}
		r.Properties, _ = m["Properties"].(map[string]any)
		r.Metadata, _ = m["Metadata"].(map[string]any)
		r.UpdatePolicy, _ = m["UpdatePolicy"].(map[string]any)
		r.Condition, _ = m["Condition"].(string)
		t.Resources[id] = r
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	t.Effective = effectiveHash(raw)
	return t, nil
}

// effectiveHash hashes what a stack update compares. "During a stack
// update, you cannot update the Metadata section by itself. You can update
// it only when you include changes that add, modify, or delete resources."
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/metadata-section-structure.html);
// the resource Metadata attribute likewise "doesn't impact resource
// creation". A template that differs only there changes nothing.
func effectiveHash(raw map[string]any) string {
	b := make([]byte, 0, 1<<16)
	b = append(b, '{')
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if k == "Metadata" || k == "Description" {
			continue
		}
		b = appendString(b, k)
		b = append(b, ':')
		res, ok := raw[k].(map[string]any)
		if k != "Resources" || !ok {
			b = appendCanonical(b, raw[k])
			b = append(b, ',')
			continue
		}
		b = append(b, '{')
		for _, id := range slices.Sorted(maps.Keys(res)) {
			b = appendString(b, id)
			b = append(b, ':')
			r, _ := res[id].(map[string]any)
			b = append(b, '{')
			for _, rk := range slices.Sorted(maps.Keys(r)) {
				if rk != "Metadata" {
					b = appendString(b, rk)
					b = append(b, ':')
					b = appendCanonical(b, r[rk])
					b = append(b, ',')
				}
			}
			b = append(b, "},"...)
		}
		b = append(b, "},"...)
	}
	b = append(b, '}')
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]) // whole: a template is untrusted input, and a collision would hide a change
}

// appendCanonical appends one encoding of a decoded JSON value: keys
// sorted, strings length-prefixed (unambiguous), so that two values have the same
// encoding exactly when they are equal. It is a hash input, never read
// back; written by hand because encoding/json's reflection on maps cost the
// reader a fifth of its time. Strings are length-prefixed, which keeps the
// encoding unambiguous without escaping.
func appendCanonical(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case string:
		return appendString(b, x)
	case []any:
		b = append(b, '[')
		for _, e := range x {
			b = appendCanonical(b, e)
			b = append(b, ',')
		}
		return append(b, ']')
	case map[string]any:
		b = append(b, '{')
		for _, k := range slices.Sorted(maps.Keys(x)) {
			b = appendString(b, k)
			b = append(b, ':')
			b = appendCanonical(b, x[k])
			b = append(b, ',')
		}
		return append(b, '}')
	default:
		return fmt.Appendf(b, "%T(%v)", v, v)
	}
}

// appendString appends s as its length, a quote and its bytes.
func appendString(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, '"')
	return append(b, s...)
}

type manifest struct {
	Artifacts map[string]artifact
}

// artifact is the part of a manifest's artifact the simulator reads.
type artifact struct {
	Type        string
	Environment string
	Properties  struct {
		TemplateFile  string
		StackName     string
		Tags          map[string]string
		DirectoryName string
	}
}

type reader struct {
	fsys       fs.FS
	lim        Limits
	total      int64
	assemblies int
	seen       map[string]bool
	out        *Assembly
	raw        map[string][]byte // template bytes by path, parsed after the walk
}

// ReadAssembly reads the cloud assembly at the root of fsys and its nested
// assemblies, strictly and within the limits. A nested assembly is read
// once however often it is referenced (cycles end there), and must stay
// inside the root.
func ReadAssembly(fsys fs.FS, lim Limits) (*Assembly, error) {
	r := &reader{fsys: fsys, lim: lim.withDefaults(), seen: map[string]bool{}, out: &Assembly{byPath: map[string]*Stack{}}, raw: map[string][]byte{}}
	if err := r.walk(".", 0); err != nil {
		return nil, err
	}
	if len(r.out.Stacks) == 0 {
		return nil, errors.New("sim: the cloud assembly has no stack")
	}
	if err := r.parse(); err != nil {
		return nil, err
	}
	if err := r.gateAssets(); err != nil {
		return nil, err
	}
	slices.SortFunc(r.out.Stacks, func(a, b *Stack) int { return strings.Compare(a.Path, b.Path) })
	return r.out, nil
}

// gateAssets reads, for every function carrying the gates metadata, the
// gates.json of its code asset when the assembly has it: the file the
// gate controller reads when it runs.
func (r *reader) gateAssets() error {
	var errs []error
	for _, s := range r.out.Stacks {
		for _, id := range slices.Sorted(maps.Keys(s.Template.Resources)) {
			res := s.Template.Resources[id]
			if res.Type != "AWS::Lambda::Function" || res.Metadata[MetadataGates] == nil {
				continue
			}
			code, _ := res.Properties["Code"].(map[string]any)
			key, _ := code["S3Key"].(string)
			hash, ok := strings.CutSuffix(key, ".zip")
			if !ok || hash == "" || strings.ContainsAny(hash, "/\\${}.") {
				continue
			}
			dir := path.Join(path.Dir(s.Path), "asset."+hash)
			if _, err := fs.Stat(r.fsys, dir); err != nil {
				continue // an assembly without its assets: the metadata says
			}
			p := path.Join(dir, "gates.json")
			if _, err := fs.Stat(r.fsys, p); err != nil {
				// The function's code is here, without the configuration
				// it reads: it would refuse every gate, and the metadata
				// is not what it runs.
				errs = append(errs, fmt.Errorf("sim: %s: the gate controller %s's code asset %s has no gates.json: the function runs without its configuration (resynthesize the assembly)", s.Path, id, dir))
				continue
			}
			b, err := r.read(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("sim: %s: %w", p, err))
				continue
			}
			if s.GateAssets == nil {
				s.GateAssets = map[string][]byte{}
			}
			s.GateAssets[id] = b
		}
	}
	return errors.Join(errs...)
}

func (r *reader) read(name string) ([]byte, error) {
	// Stat before opening: opening a FIFO for reading would block.
	if st, err := fs.Stat(r.fsys, name); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	f, err := r.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, r.lim.MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > r.lim.MaxFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, r.lim.MaxFileBytes)
	}
	r.total += int64(len(data))
	if r.total > r.lim.MaxTotalBytes {
		return nil, fmt.Errorf("the assembly is larger than %d bytes in all", r.lim.MaxTotalBytes)
	}
	return data, nil
}

// inside joins a manifest-relative name to dir and refuses names that
// leave the root.
func inside(dir, name string) (string, error) {
	if name == "" || path.IsAbs(name) || strings.Contains(name, "\\") {
		return "", fmt.Errorf("path %q must be relative", name)
	}
	p := path.Clean(path.Join(dir, name))
	if p == ".." || strings.HasPrefix(p, "../") || !fs.ValidPath(p) {
		return "", fmt.Errorf("path %q leaves the assembly", name)
	}
	return p, nil
}

func (r *reader) walk(dir string, depth int) error {
	if r.seen[dir] {
		return nil
	}
	r.seen[dir] = true
	r.assemblies++
	if r.assemblies > r.lim.MaxAssemblies {
		return fmt.Errorf("sim: more than %d nested assemblies", r.lim.MaxAssemblies)
	}
	if depth > r.lim.MaxNesting {
		return fmt.Errorf("sim: %s: assemblies nested deeper than %d", dir, r.lim.MaxNesting)
	}
	mpath := path.Join(dir, "manifest.json")
	data, err := r.read(mpath)
	if err != nil {
		return fmt.Errorf("sim: no cloud assembly manifest: %w", err)
	}
	m, err := parseManifest(data, mpath)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(m.Artifacts)) {
		a := m.Artifacts[id]
		switch a.Type {
		case "aws:cloudformation:stack":
			if len(r.out.Stacks) >= r.lim.MaxStacks {
				return fmt.Errorf("sim: more than %d stacks", r.lim.MaxStacks)
			}
			rel, err := inside(dir, a.Properties.TemplateFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("sim: %s: stack %s: %w", mpath, id, err))
				continue
			}
			if _, dup := r.out.byPath[rel]; dup {
				continue
			}
			tb, err := r.read(rel)
			if err != nil {
				errs = append(errs, fmt.Errorf("sim: stack %s: %w", id, err))
				continue
			}
			r.raw[rel] = tb
			s := &Stack{Artifact: id, Name: a.Properties.StackName, Path: rel, Tags: a.Properties.Tags}
			if s.Name == "" {
				s.Name = id
			}
			if parts := strings.Split(a.Environment, "/"); len(parts) == 4 && parts[0] == "aws:" {
				if !strings.HasPrefix(parts[2], "unknown") {
					s.Account = parts[2]
				}
				if !strings.HasPrefix(parts[3], "unknown") {
					s.Region = parts[3]
				}
			}
			r.out.Stacks = append(r.out.Stacks, s)
			r.out.byPath[rel] = s
		case "cdk:cloud-assembly":
			sub, err := inside(dir, a.Properties.DirectoryName)
			if err != nil {
				errs = append(errs, fmt.Errorf("sim: %s: nested assembly %s: %w", mpath, id, err))
				continue
			}
			if err := r.walk(sub, depth+1); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// parse parses every template read, on every core; errors are reported in
// path order.
func (r *reader) parse() error {
	stacks := r.out.Stacks
	errs := make([]error, len(stacks))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				stacks[i].Template, errs[i] = ParseTemplate(r.raw[stacks[i].Path], stacks[i].Path)
			}
		}()
	}
	for i := range stacks {
		next <- i
	}
	close(next)
	wg.Wait()
	r.raw = nil
	return errors.Join(errs...)
}

// Stack returns the stack whose template is at path p (relative to the
// root), or nil.
func (a *Assembly) Stack(p string) *Stack { return a.byPath[path.Clean(p)] }

// decodeJSON decodes a strictly checked document held in memory (used for
// embedded configuration such as the gates metadata).
func decodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
