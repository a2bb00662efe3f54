package verify_test

import (
	"fmt"
	"os"

	"github.com/safepipe/safepipe/verify"
)

// Verify a cloud assembly and print what is wrong; a CI job would exit
// non-zero when rep.Failed(verify.Warning).
func ExampleAssembly() {
	rep, err := verify.Assembly("testdata/assembly-fail-SP017", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range rep.Findings {
		fmt.Println(f.Rule, f.Stage, f.Region, f.Message)
	}
	fmt.Println("failed:", rep.Failed(verify.Warning))
	// Output:
	// SP004 Prod-W2-OneBox eu-west-1 stage Prod-W2-OneBox deploys to eu-west-1 but its bake does not watch that region's aggregate alarm
	// SP006 Prod-W2-OneBox eu-west-1 stage Prod-W2-OneBox enters eu-west-1 without checking an alarm that plays the aggregate role there
	// SP017 Prod-W2-OneBox eu-west-1 no alarm plays the aggregate role in account 333333333333, eu-west-1: no composite alarm of a stack there ORs the region's 2 high-severity alarm(s) (orders-api-fault-rate, orders-api-latency)
	// SP022 Prod-W2-OneBox eu-west-1 stage Prod-W2-OneBox watches alarm "orders-aggregate-rollback" in account 333333333333, eu-west-1 (action Blockers), but no stack of the assembly creates it there and it is not declared external
	// SP022 Prod-W2-OneBox eu-west-1 stage Prod-W2-OneBox watches alarm "orders-onebox-bake" in account 333333333333, eu-west-1 (rule Bake-eu-west-1), but no stack of the assembly creates it there and it is not declared external
	// SP004 Prod-W2-Regional eu-west-1 stage Prod-W2-Regional deploys to eu-west-1 but its bake does not watch that region's aggregate alarm
	// SP006 Prod-W2-Regional eu-west-1 stage Prod-W2-Regional enters eu-west-1 without checking an alarm that plays the aggregate role there
	// SP022 Prod-W2-Regional eu-west-1 stage Prod-W2-Regional watches alarm "orders-aggregate-rollback" in account 333333333333, eu-west-1 (action Blockers), but no stack of the assembly creates it there and it is not declared external
	// SP022 Prod-W2-Regional eu-west-1 stage Prod-W2-Regional watches alarm "orders-bake" in account 333333333333, eu-west-1 (rule Bake-eu-west-1), but no stack of the assembly creates it there and it is not declared external
	// failed: true
}

// Verify one template with the team's own stage names and a suppression.
func ExampleTemplateReader() {
	f, err := os.Open("testdata/fail/SP005-no-window.template.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	rep, err := verify.TemplateReader(f, "pipeline.json", &verify.Config{
		Suppressions: []verify.Suppression{{Rule: "SP005", Stage: "Prod-W2-OneBox", Reason: "window enforced by the change calendar"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range rep.Findings {
		if f.Severity < verify.Warning {
			continue // as the CLI's default threshold does
		}
		fmt.Println(f.Rule, f.Stage, f.Suppressed, f.Reason)
	}
	// Output:
	// SP005 Prod-W2-OneBox true window enforced by the change calendar
}

// Read a cloud assembly without verifying it: each stack with its account,
// region and tags, and each pipeline's stages and gates.
func ExampleReadAssembly() {
	asm, err := verify.ReadAssembly("testdata/real/dpra-application-pipeline", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range asm.Templates {
		for _, p := range t.Pipelines() {
			fmt.Println(p.LogicalID, p.Type, p.Account, p.Region)
			for _, s := range p.Stages {
				if s.Deploys() {
					fmt.Println(" ", s.Name, s.DeployRegions(), len(s.Blockers()), len(s.Bakes()))
				}
			}
		}
	}
	// Output:
	// fruitapiPipeline1F033DA2 V1 111111111111 us-west-2
	//   Beta-us-west-2 [us-west-2] 0 0
	//   Gamma-0 [us-west-2 us-east-1] 0 0
	//   Prod-0 [us-west-2 us-east-1] 0 0
	//   Prod-1 [eu-central-1 eu-west-1] 0 0
	//   Prod-2 [ap-south-1 ap-southeast-2] 0 0
}
