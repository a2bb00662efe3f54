package gray_test

import (
	"fmt"
	"strings"

	"github.com/safepipe/safepipe/gray"
)

// Two teams' releases over one call chain, checked together: Android
// users in Atlantis match both, and neither file gives a priority.
func ExampleAnalyzeReleases() {
	android := `releases:
  - name: android
    match: {attribute: {name: device, in: [Android]}}
    services: {order: order-v1.1, email: email-v2.1}
`
	atlantis := `releases:
  - name: atlantis
    match: {attribute: {name: city, in: [Atlantis]}}
    services: {email: email-v2.2, sms: sms-v3}
`
	var sets []*gray.ReleaseSet
	for name, text := range map[string]string{"android.yaml": android, "atlantis.yaml": atlantis} {
		_, rs, err := gray.LoadFile(strings.NewReader(text), name)
		if err != nil {
			fmt.Println(err)
			return
		}
		sets = append(sets, rs)
	}
	all, err := gray.Merge(sets...)
	if err != nil {
		fmt.Println(err)
		return
	}
	a, err := gray.AnalyzeReleases(all)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range a.Findings {
		fmt.Printf("%s %s: %s\n", f.Severity, f.Kind, f.Message)
	}
	// Output:
	// error ambiguous-overlap: requests in device=Android ∧ city=Atlantis (e.g. any other key, city="Atlantis", device="Android") match both android and atlantis, of the same priority (0): give the narrower release the lower number. As written, android takes them (its name sorts first): email serves email-v2.1, order serves order-v1.1, sms serves stable, not atlantis's sms-v3
}

// The edge decides once; every service serves the decided release's
// version, or its stable one.
func ExampleRouter() {
	rs := &gray.ReleaseSet{Releases: []gray.Release{
		{Name: "android", Priority: 10, Match: gray.Match{Attribute: &gray.Attribute{Name: "device", In: []string{"Android"}}},
			Services: map[string]string{"order": "order-v1.1", "email": "email-v2.1"}},
		{Name: "atlantis", Priority: 20, Match: gray.Match{Attribute: &gray.Attribute{Name: "city", In: []string{"Atlantis"}}},
			Services: map[string]string{"email": "email-v2.2", "sms": "sms-v3"}},
	}}
	router, err := gray.CompileReleases(rs)
	if err != nil {
		fmt.Println(err)
		return
	}
	release := router.Decide(&gray.Context{Key: "u-42", Attributes: map[string]string{"device": "Android", "city": "Atlantis"}})
	for _, svc := range rs.Services() {
		fmt.Printf("%s: %s\n", svc, router.Version(release, svc))
	}
	// Output:
	// email: email-v2.1
	// order: order-v1.1
	// sms: stable
}

// An A/B split hashed as Unleash hashes variants: the same user gets the
// same variant here and from an Unleash SDK with the same toggle.
func ExampleVariants() {
	ab := &gray.Variants{Group: "Feature.Variants.C", Variants: []gray.Variant{
		{Name: "variant1", Weight: 33}, {Name: "variant2", Weight: 33}, {Name: "variant3", Weight: 33},
	}}
	if err := ab.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	for _, user := range []string{"232", "607", "656"} {
		v, sticky := ab.Select(&gray.Context{Key: user})
		fmt.Println(user, v.Name, sticky)
	}
	// Output:
	// 232 variant1 true
	// 607 variant2 true
	// 656 variant3 true
}
