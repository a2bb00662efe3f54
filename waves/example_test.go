package waves_test

import (
	"fmt"
	"time"

	"github.com/safepipe/safepipe/waves"
)

// Plan the reference zonal service over the embedded catalog and print the
// first stages and the time to global.
func ExampleNewPlan() {
	plan, err := waves.NewPlan(waves.DefaultCatalog(), waves.Policy{
		Kind:    waves.PolicyAmazon,
		OptIn:   []string{"*"},
		Exclude: []string{"us-west-1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range plan.Stages[:3] {
		fmt.Println(s.Name, s.Kind, s.Targets[0].ID(), s.Bake)
	}
	tl, _ := waves.Schedule(plan, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), 30*time.Minute)
	fmt.Printf("%d waves, %d stages, global after %d business days\n", len(plan.Waves), len(plan.Stages), tl.BusinessDays)
	// Output:
	// Prod-W1-OneBox one-box af-south-1-onebox 1h0m0s
	// Prod-W1-Z1 zonal af-south-1-afs1-az1 1h0m0s
	// Prod-W1-Z2 zonal af-south-1-afs1-az2 1h0m0s
	// 5 waves, 23 stages, global after 7 business days
}

// A policy with an invalid field reports every problem at once.
func ExampleNewPlan_errors() {
	_, err := waves.NewPlan(waves.DefaultCatalog(), waves.Policy{
		Kind:    "fastest",
		Exclude: []string{"us-moon-1"},
		Bakes:   waves.Bakes{OneBox: 5 * time.Minute},
	})
	fmt.Println(err)
	// Output:
	// policy: kind "fastest" is unknown (want amazon, doubling or explicit)
	// policy: exclude: region "us-moon-1" is not in the catalog (version 2026.12)
	// policy: bakes.oneBox is 5m0s, below the floor of 1h0m0s (set expediteReason to ship an expedited change)
}
