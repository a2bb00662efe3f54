package verify

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/safepipe/safepipe/model"
)

// CloudAssembly is a cloud assembly (cdk.out) as read: the stack templates
// of the root assembly and of its nested assemblies.
type CloudAssembly struct {
	// Dir is the directory read.
	Dir string
	// Templates are the stacks, in manifest order: the root's artifacts by
	// sorted ID, each nested assembly where it is listed.
	Templates []*Template
}

// ReadAssembly reads the cloud assembly in dir within lim (nil:
// DefaultLimits). It follows nested assemblies (cdk:cloud-assembly
// artifacts) and reads every stack template (aws:cloudformation:stack
// artifacts), with the stack's account, region, name and tags from the
// manifest. The walk never leaves dir (paths are resolved inside it,
// symbolic links included), reads each directory once however it is
// reached (by device and inode, so links to "." cannot make it loop), reads
// regular files only and each through a size limit, and stops at the
// limits on manifests, nesting, templates and bytes. Problems are reported
// all together, each naming the file.
func ReadAssembly(dir string, lim *Limits) (*CloudAssembly, error) {
	l := lim.OrDefault()
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("verify: %s", Escape(err.Error()))
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("verify: %s is not a directory (give a cloud assembly, or a template file)", Escape(dir))
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("verify: %s", Escape(err.Error()))
	}
	defer root.Close()
	r := &assemblyReader{root: root, lim: l}
	r.assembly(".", 0)
	if len(r.errs) > 0 {
		return nil, fmt.Errorf("verify: %s:\n%w", Escape(dir), errors.Join(r.errs...))
	}
	return &CloudAssembly{Dir: dir, Templates: r.templates}, nil
}

type assemblyReader struct {
	root      *os.Root
	lim       Limits
	read      int64
	manifests int
	seen      []fs.FileInfo
	templates []*Template
	errs      []error
	stop      bool // a limit was reached: read no further
}

func (r *assemblyReader) fail(format string, args ...any) {
	if len(r.errs) < model.MaxKeyErrors {
		for _, line := range strings.Split(fmt.Sprintf(format, args...), "\n") {
			r.errs = append(r.errs, errors.New(Escape(line)))
		}
	}
}

// readFile reads a regular file of the assembly within the limits.
func (r *assemblyReader) readFile(rel string) ([]byte, error) {
	// Stat before opening: opening a FIFO for reading would block.
	if st, err := r.root.Stat(rel); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", Escape(rel))
	}
	f, err := r.root.Open(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", Escape(rel), fs.ErrNotExist)
	}
	if err != nil {
		return nil, errors.New(Escape(err.Error()))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, errors.New(Escape(err.Error()))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", Escape(rel))
	}
	if st.Size() > r.lim.MaxFileBytes {
		return nil, fmt.Errorf("%s is %d bytes, more than %d (limit %d)", Escape(rel), st.Size(), r.lim.MaxFileBytes, r.lim.MaxFileBytes)
	}
	b, err := io.ReadAll(io.LimitReader(f, r.lim.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %s", Escape(rel), Escape(err.Error()))
	}
	if int64(len(b)) > r.lim.MaxFileBytes {
		return nil, fmt.Errorf("%s is more than %d bytes (limit %d)", Escape(rel), r.lim.MaxFileBytes, r.lim.MaxFileBytes)
	}
	r.read += int64(len(b))
	if r.read > r.lim.MaxTotalBytes {
		r.stop = true
		return nil, fmt.Errorf("the assembly's files are more than %d bytes in all (limit %d)", r.lim.MaxTotalBytes, r.lim.MaxTotalBytes)
	}
	return b, nil
}

// assembly reads the assembly in directory rel (relative to the root).
func (r *assemblyReader) assembly(rel string, depth int) {
	if r.stop {
		return
	}
	if depth > r.lim.MaxNesting {
		r.fail("%s: nested assemblies go deeper than %d levels (limit %d)", Escape(rel), r.lim.MaxNesting, r.lim.MaxNesting)
		r.stop = true
		return
	}
	st, err := r.root.Stat(rel)
	if err != nil {
		r.fail("%s", Escape(err.Error()))
		return
	}
	if !st.IsDir() {
		r.fail("%s is not a directory", Escape(rel))
		return
	}
	for _, s := range r.seen {
		if os.SameFile(s, st) {
			return // already read: a link back, or a second way to it
		}
	}
	r.seen = append(r.seen, st)
	r.manifests++
	if r.manifests > r.lim.MaxAssemblies {
		r.fail("%s: more than %d nested assemblies (limit %d)", Escape(rel), r.lim.MaxAssemblies, r.lim.MaxAssemblies)
		r.stop = true
		return
	}
	mpath := path.Join(rel, "manifest.json")
	b, err := r.readFile(mpath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			r.fail("no cloud assembly manifest: %s", Escape(mpath))
			return
		}
		r.fail("%v", err)
		return
	}
	arts, err := parseManifest(b, mpath, r.lim)
	if err != nil {
		r.fail("%v", err)
		return
	}
	for _, a := range arts {
		if r.stop {
			return
		}
		switch a.kind {
		case "aws:cloudformation:stack":
			if len(r.templates) >= r.lim.MaxTemplates {
				r.fail("%s: more than %d stack templates (limit %d)", Escape(mpath), r.lim.MaxTemplates, r.lim.MaxTemplates)
				r.stop = true
				return
			}
			tp := path.Join(rel, a.file)
			tb, err := r.readFile(tp)
			if err != nil {
				r.fail("stack %s: %v", Escape(a.id), err)
				continue
			}
			t, err := parseTemplate(tb, tp, r.lim)
			if err != nil {
				r.fail("%v", err)
				continue
			}
			t.Account, t.Region = a.account, a.region
			t.StackName, t.Tags = a.stackName, a.tags
			r.readGateAssets(rel, t)
			r.templates = append(r.templates, t)
		case "cdk:cloud-assembly":
			r.assembly(path.Join(rel, a.dir), depth+1)
		}
	}
}

// artifact is one artifact of a manifest that verify reads.
type artifact struct {
	id, kind             string
	account, region      string
	file, dir, stackName string
	tags                 map[string]string
}

// parseManifest reads a cloud assembly manifest strictly: one JSON
// document without duplicate keys; artifacts an object of objects; the
// fields verify reads of the right types; template files and nested
// directories inside the assembly. Fields verify does not read are left
// alone (the schema grows with CDK versions).
func parseManifest(b []byte, name string, l Limits) ([]artifact, error) {
	shown := Escape(name)
	v, err := DecodeJSON(b, shown, l.MaxJSONDepth)
	if err != nil {
		return nil, fmt.Errorf("malformed manifest %s:\n%w", shown, err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("malformed manifest %s: not a JSON object", shown)
	}
	raw, present := doc["artifacts"]
	if !present {
		return nil, nil
	}
	arts, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("malformed manifest %s: artifacts is not an object", shown)
	}
	var out []artifact
	var errs []error
	bad := func(id, format string, args ...any) {
		errs = append(errs, errors.New(Escape(fmt.Sprintf("manifest %s: artifact %s: "+format, append([]any{shown, id}, args...)...))))
	}
	for _, id := range sortedKeys(arts) {
		am, ok := arts[id].(map[string]any)
		if !ok {
			bad(id, "is not an object")
			continue
		}
		a := artifact{id: id}
		a.kind, ok = am["type"].(string)
		if !ok {
			bad(id, "type is not a string")
			continue
		}
		if a.kind != "aws:cloudformation:stack" && a.kind != "cdk:cloud-assembly" {
			continue
		}
		props, ok := am["properties"].(map[string]any)
		if !ok {
			bad(id, "properties is not an object")
			continue
		}
		strField := func(m map[string]any, key string, required bool) string {
			v, present := m[key]
			if !present {
				if required {
					bad(id, "has no %s", key)
				}
				return ""
			}
			s, ok := v.(string)
			if !ok {
				bad(id, "%s is not a string", key)
			}
			return s
		}
		local := func(key, p string) bool {
			if p == "" || !filepath.IsLocal(filepath.FromSlash(p)) {
				bad(id, "%s %q is not a path inside the assembly", key, p)
				return false
			}
			return true
		}
		if a.kind == "cdk:cloud-assembly" {
			a.dir = strField(props, "directoryName", true)
			if local("directoryName", a.dir) {
				out = append(out, a)
			}
			continue
		}
		a.file = strField(props, "templateFile", true)
		a.stackName = strField(props, "stackName", false)
		if a.stackName == "" {
			a.stackName = id
		}
		if env := strField(am, "environment", false); env != "" {
			// aws://ACCOUNT/REGION, "unknown-account"/"unknown-region" for
			// environment-agnostic stacks.
			if rest, ok := strings.CutPrefix(env, "aws://"); ok {
				acct, reg, _ := strings.Cut(rest, "/")
				if isAccount(acct) {
					a.account = acct
				}
				if !strings.HasPrefix(reg, "unknown") {
					a.region = reg
				}
			}
		}
		if tv, present := props["tags"]; present {
			tm, ok := tv.(map[string]any)
			if !ok {
				bad(id, "tags is not an object")
			} else {
				a.tags = map[string]string{}
				for _, k := range sortedKeys(tm) {
					s, ok := tm[k].(string)
					if !ok {
						bad(id, "tag %q is not a string", k)
						continue
					}
					a.tags[k] = s
				}
			}
		}
		if local("templateFile", a.file) {
			out = append(out, a)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
