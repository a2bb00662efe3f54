package waves

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/internal/fuzzseed"
)

func TestDefaultCatalog(t *testing.T) {
	c := DefaultCatalog()
	require.NoError(t, c.Validate())
	assert.GreaterOrEqual(t, len(c.Regions), 34, "every GA commercial region as of late 2026")
	for _, code := range []string{"us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1", "ap-southeast-7", "mx-central-1", "ap-east-2", "ap-southeast-6"} {
		r, ok := c.Region(code)
		if assert.True(t, ok, code) {
			assert.Equal(t, "aws", r.Partition, code)
			assert.NotEmpty(t, r.AZs, code)
		}
	}
	r, _ := c.Region("us-east-1")
	assert.Equal(t, []string{"use1-az1", "use1-az2", "use1-az3", "use1-az4", "use1-az5", "use1-az6"}, r.AZs)
	assert.False(t, r.OptIn)
	r, _ = c.Region("af-south-1")
	assert.True(t, r.OptIn)
	assert.True(t, isSorted(c.Codes()))
	// DefaultCatalog returns a fresh copy each time.
	c.Regions[0].AZs[0] = "mutated"
	assert.NotEqual(t, "mutated", DefaultCatalog().Regions[0].AZs[0])
}

func isSorted(xs []string) bool {
	for i := 1; i < len(xs); i++ {
		if xs[i-1] >= xs[i] {
			return false
		}
	}
	return true
}

func TestAZIDPrefix(t *testing.T) {
	for code, want := range map[string]string{
		"us-east-1": "use1", "us-west-2": "usw2", "ap-southeast-2": "apse2", "ap-northeast-1": "apne1",
		"eu-central-2": "euc2", "ca-west-1": "caw1", "il-central-1": "ilc1", "me-south-1": "mes1",
		"sa-east-1": "sae1", "mx-central-1": "mxc1", "us-gov-west-1": "usgw1", "ap-south-2": "aps2",
	} {
		got, ok := AZIDPrefix(code)
		assert.True(t, ok, code)
		assert.Equal(t, want, got, code)
	}
	for _, bad := range []string{"", "us-east", "useast1", "US-EAST-1", "us-middle-1", "xx"} {
		_, ok := AZIDPrefix(bad)
		assert.False(t, ok, bad)
	}
}

func TestEveryDefaultAZBelongsToItsRegion(t *testing.T) {
	for _, r := range DefaultCatalog().Regions {
		prefix, ok := AZIDPrefix(r.Code)
		require.True(t, ok, r.Code)
		for _, az := range r.AZs {
			assert.True(t, strings.HasPrefix(az, prefix+"-az"), "%s: %s", r.Code, az)
		}
	}
}

func TestParseCatalogErrors(t *testing.T) {
	region := func(mod func(m map[string]any)) map[string]any {
		m := map[string]any{"code": "eu-west-1", "partition": "aws", "name": "Europe (Ireland)",
			"azs": []string{"euw1-az1", "euw1-az2"}, "tier": "high", "tz": "Europe/Dublin", "optIn": false}
		if mod != nil {
			mod(m)
		}
		return m
	}
	tests := []struct {
		name    string
		regions []map[string]any
		want    []string // every substring must appear in the joined error
	}{
		{"valid", []map[string]any{region(nil)}, nil},
		{"duplicate code", []map[string]any{region(nil), region(func(m map[string]any) { m["azs"] = []string{"euw1-az3"} })},
			[]string{`region "eu-west-1": duplicate region code`}},
		{"duplicate AZ across regions", []map[string]any{region(nil), region(func(m map[string]any) {
			m["code"], m["azs"], m["tz"] = "eu-west-2", []string{"euw1-az1"}, "Europe/London"
		})}, []string{`region "eu-west-2": az "euw1-az1" does not belong to this region`, `az "euw1-az1" is also listed by region "eu-west-1"`}},
		{"AZ listed twice", []map[string]any{region(func(m map[string]any) { m["azs"] = []string{"euw1-az1", "euw1-az1"} })},
			[]string{`az "euw1-az1" is listed twice`}},
		{"AZ name, not ID", []map[string]any{region(func(m map[string]any) { m["azs"] = []string{"eu-west-1a"} })},
			[]string{`az "eu-west-1a" is not an AZ ID`}},
		{"empty AZs", []map[string]any{region(func(m map[string]any) { m["azs"] = []string{} })},
			[]string{`azs is empty`}},
		{"unknown code", []map[string]any{region(func(m map[string]any) { m["code"] = "mars-1" })},
			[]string{`region "mars-1": code is not a known AWS region code shape`}},
		{"bad tz and tier and partition", []map[string]any{region(func(m map[string]any) {
			m["tz"], m["tier"], m["partition"] = "Europe/Atlantis", "huge", "azure"
		})}, []string{`tz "Europe/Atlantis" is not an IANA time zone`, `tier "huge" is unknown`, `partition "azure" is unknown`}},
		{"empty name and code", []map[string]any{region(func(m map[string]any) { m["code"], m["name"] = "", "" })},
			[]string{`regions[0]: code is empty`, `regions[0]: name is empty`}},
		{"services without their source", []map[string]any{region(func(m map[string]any) { m["services"] = []string{"codepipeline"} })},
			[]string{`region "eu-west-1": services is set and servicesSource is empty`}},
		{"services misspelt, twice, unsorted", []map[string]any{region(func(m map[string]any) {
			m["services"], m["source"] = []string{"s3", "CodePipeline", "kms", "kms"}, true
		})}, []string{`services: "CodePipeline" is not a service's endpoint name`, `services: "kms" is listed twice`, `services are not sorted`}},
		{"a source, and a region without services", []map[string]any{region(func(m map[string]any) { m["source"] = true }),
			region(func(m map[string]any) {
				m["code"], m["azs"], m["tz"] = "eu-west-2", []string{"euw2-az1"}, "Europe/London"
			})},
			[]string{`region "eu-west-2": services is empty; the catalog says where services come from`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := map[string]any{"version": "test", "regions": tt.regions}
			for _, r := range tt.regions {
				if r["source"] == true {
					delete(r, "source")
					doc["servicesSource"] = "test data"
				}
			}
			b, err := json.Marshal(doc)
			require.NoError(t, err)
			c, err := ParseCatalog(b)
			if tt.want == nil {
				require.NoError(t, err)
				assert.Len(t, c.Regions, len(tt.regions))
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestParseCatalogRejectsMalformedInput(t *testing.T) {
	for name, in := range map[string]string{
		"not JSON":      `{"version":`,
		"unknown field": `{"version":"1","regions":[{"code":"eu-west-1","az":["euw1-az1"]}]}`,
		"trailing data": `{"version":"1","regions":[]} {}`,
		"empty":         ``,
		"no regions":    `{"version":"1","regions":[]}`,
		"no version":    `{"regions":[{"code":"eu-west-1","partition":"aws","name":"x","azs":["euw1-az1"],"tier":"low","tz":"UTC"}]}`,
	} {
		_, err := ParseCatalog([]byte(in))
		assert.Error(t, err, name)
	}
}

func TestLoadCatalogFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.json")
	require.NoError(t, os.WriteFile(path, DefaultCatalogJSON(), 0o644))
	c, err := LoadCatalogFile(path)
	require.NoError(t, err)
	assert.Equal(t, DefaultCatalog().Codes(), c.Codes())
	_, err = LoadCatalogFile(filepath.Join(dir, "missing.json"))
	assert.ErrorContains(t, err, "missing.json")
}

// FuzzParseCatalog checks the parser never panics and that whatever it
// accepts is valid and round-trips.
func FuzzParseCatalog(f *testing.F) {
	f.Add(DefaultCatalogJSON())
	f.Add([]byte(`{"version":"1","regions":[{"code":"us-east-1","partition":"aws","name":"n","azs":["use1-az1"],"tier":"low","tz":"UTC","optIn":false}]}`))
	f.Add([]byte(`{"version":"1","regions":[{"code":"us-gov-west-1","partition":"aws-us-gov","name":"n","azs":["usgw1-az1"],"tier":"high","tz":"America/Los_Angeles"}]}`))
	fuzzseed.Add(f, hostileCatalogSeeds()...)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCatalog(data)
		if err != nil {
			return
		}
		require.NoError(t, c.Validate())
		again, err := json.Marshal(c)
		require.NoError(t, err)
		c2, err := ParseCatalog(again)
		require.NoError(t, err)
		require.Equal(t, c.Codes(), c2.Codes())
	})
}
