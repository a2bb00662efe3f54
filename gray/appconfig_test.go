package gray

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppConfigFlag(t *testing.T) {
	rs, err := Load(strings.NewReader(sample))
	require.NoError(t, err)
	doc, err := AppConfigFlag(rs, "checkout")
	require.NoError(t, err)
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	var got struct {
		Version string
		Flags   map[string]map[string]any
		Values  map[string]struct {
			Variants []map[string]any `json:"_variants"`
		}
	}
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, "1", got.Version)
	require.Contains(t, got.Flags, "checkout")
	vs := got.Values["checkout"].Variants
	require.Len(t, vs, 4)
	assert.Equal(t, map[string]any{"name": "staff", "enabled": true, "variant": "v2-staff", "rule": `(or (eq $key "alice") (eq $key "bob"))`}, vs[0])
	assert.Equal(t, `(and (eq $attr_city_lower "shanghai") (eq $attr_os_lower "ios"))`, vs[1]["rule"])
	assert.Equal(t, `(and (gt $bucket1000_checkout 0) (lte $bucket1000_checkout 3))`, vs[2]["rule"])
	assert.Equal(t, map[string]any{"name": "default", "enabled": false, "variant": "v1"}, vs[3], "the stable variant is the default, last")

	e, err := Compile(rs)
	require.NoError(t, err)
	ctx := e.AppConfigContext(&Context{Key: "carol", Attributes: map[string]string{"City": "Shanghai", "key": "alice"}})
	assert.Equal(t, "carol", ctx["key"], "an attribute named key cannot replace the key")
	assert.Equal(t, "shanghai", ctx["attr_City_lower"])
	assert.Equal(t, int(Bucket("checkout", "carol", 1000)), ctx["bucket1000_checkout"])

	_, err = AppConfigFlag(&RuleSet{Rules: []Rule{{Name: "q", Target: "v2", Match: Match{IDs: []string{`a"b`}}}}}, "checkout")
	assert.ErrorContains(t, err, `rule "q": value "a\"b" contains a quote`)
	_, err = AppConfigFlag(&RuleSet{Rules: []Rule{
		{Name: "a", Target: "v2", Match: Match{Attribute: &Attribute{Name: "user-id", In: []string{"x"}}}},
		{Name: "b", Target: "v3", Match: Match{Attribute: &Attribute{Name: "user_id", In: []string{"y"}}}},
	}}, "checkout")
	assert.ErrorContains(t, err, `attributes "user-id" and "user_id" both become`)
	_, err = AppConfigFlag(rs, "Checkout Flag")
	assert.ErrorContains(t, err, "flag name")
}
